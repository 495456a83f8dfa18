# Mistake: duplicates instead of moving: the new object gets a different descriptor and the old one stays open.
def adopt(sock):
    """Move sock's descriptor into a new socket object (sock is left closed) and return it."""
    return sock.dup()
