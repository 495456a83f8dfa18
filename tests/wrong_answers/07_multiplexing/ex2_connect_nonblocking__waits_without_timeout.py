# Waits in select() without a timeout, so a server that never answers the connect hangs the caller.
def connect_nonblocking(address, timeout):
    """Connect a non-blocking TCP socket to `address` within `timeout` s; return it, still non-blocking."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.connect_ex(address)
        select.select([], [sock], [sock])
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))
    except BaseException:
        sock.close()
        raise
    return sock
