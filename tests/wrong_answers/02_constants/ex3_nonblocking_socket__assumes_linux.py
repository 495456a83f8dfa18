# Mistake: uses socket.SOCK_NONBLOCK unconditionally, which does not exist on macOS or Windows.
def nonblocking_socket(kind=socket.SOCK_STREAM):
    """Return a new non-blocking, non-inheritable AF_INET socket of type kind."""
    return socket.socket(socket.AF_INET, kind | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
