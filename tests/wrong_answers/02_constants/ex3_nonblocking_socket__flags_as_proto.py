# Mistake: passes the flags as the third argument (proto) instead of OR-ing them into the type.
def nonblocking_socket(kind=socket.SOCK_STREAM):
    """Return a new non-blocking, non-inheritable AF_INET socket of type kind."""
    flags = getattr(socket, "SOCK_NONBLOCK", 0) | getattr(socket, "SOCK_CLOEXEC", 0)
    return socket.socket(socket.AF_INET, kind, flags)
