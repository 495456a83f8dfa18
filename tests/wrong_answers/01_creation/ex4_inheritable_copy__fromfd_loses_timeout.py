# Mistake: duplicates with socket.fromfd(), which does not copy the original's timeout.
def inheritable_copy(sock):
    """Return a duplicate of sock on its own, inheritable descriptor; sock is left unchanged."""
    copy = socket.fromfd(sock.fileno(), sock.family, sock.type, sock.proto)
    copy.set_inheritable(True)
    return copy
