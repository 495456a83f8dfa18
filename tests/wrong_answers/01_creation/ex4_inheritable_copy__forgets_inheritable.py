# Mistake: returns a plain duplicate and forgets that duplicates are non-inheritable too.
def inheritable_copy(sock):
    """Return a duplicate of sock on its own, inheritable descriptor; sock is left unchanged."""
    return sock.dup()
