# Mistake: wraps sock.fileno() without detach(), so two objects now own (and will both close) one descriptor.
def adopt(sock):
    """Move sock's descriptor into a new socket object (sock is left closed) and return it."""
    return socket.socket(fileno=sock.fileno())
