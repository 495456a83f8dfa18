# Treats connect_ex()'s EINPROGRESS as a failure: on a non-blocking socket it means "under way".
def connect_nonblocking(address, timeout):
    """Connect a non-blocking TCP socket to `address` within `timeout` s; return it, still non-blocking."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    err = sock.connect_ex(address)
    if err:
        sock.close()
        raise OSError(err, os.strerror(err))
    return sock
