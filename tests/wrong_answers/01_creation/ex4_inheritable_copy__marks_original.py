# Mistake: marks the original inheritable and then duplicates it, expecting the duplicate to inherit the flag.
def inheritable_copy(sock):
    """Return a duplicate of sock on its own, inheritable descriptor; sock is left unchanged."""
    sock.set_inheritable(True)
    return sock.dup()
