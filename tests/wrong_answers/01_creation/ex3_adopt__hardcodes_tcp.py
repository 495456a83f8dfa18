# Mistake: passes AF_INET and SOCK_STREAM explicitly, which overrides the real family and type of the descriptor.
def adopt(sock):
    """Move sock's descriptor into a new socket object (sock is left closed) and return it."""
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM, fileno=sock.detach())
