# Calls detach() instead of close() on failure: the socket object is gone but its descriptor stays open.
def connect_nonblocking(address, timeout):
    """Connect a non-blocking TCP socket to `address` within `timeout` s; return it, still non-blocking."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        err = sock.connect_ex(address)
        if err and err not in (errno.EINPROGRESS, errno.EWOULDBLOCK,
                               getattr(errno, "WSAEWOULDBLOCK", errno.EWOULDBLOCK)):
            raise OSError(err, os.strerror(err))        # failed at once
        _, writable, failed = select.select([], [sock], [sock], timeout)
        if not writable and not failed:
            raise TimeoutError(f"connecting to {address} took longer than {timeout} s")
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))
    except BaseException:
        sock.detach()
        raise
    return sock
