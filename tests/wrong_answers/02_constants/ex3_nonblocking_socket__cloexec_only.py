# Mistake: adds SOCK_CLOEXEC only, as if close-on-exec also meant non-blocking.
def nonblocking_socket(kind=socket.SOCK_STREAM):
    """Return a new non-blocking, non-inheritable AF_INET socket of type kind."""
    return socket.socket(socket.AF_INET, kind | getattr(socket, "SOCK_CLOEXEC", 0))
