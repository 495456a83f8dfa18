# style: no type flags at all: setblocking(False) after creating the socket (sockets are non-inheritable by default)
def nonblocking_socket(kind=socket.SOCK_STREAM):
    """Return a new non-blocking, non-inheritable AF_INET socket of type kind."""
    sock = socket.socket(socket.AF_INET, kind)
    sock.setblocking(False)
    return sock
