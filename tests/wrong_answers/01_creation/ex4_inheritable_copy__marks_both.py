# Mistake: makes the original inheritable as well as the copy, so every later child inherits the parent's socket.
def inheritable_copy(sock):
    """Return a duplicate of sock on its own, inheritable descriptor; sock is left unchanged."""
    sock.set_inheritable(True)
    copy = sock.dup()
    copy.set_inheritable(True)
    return copy
