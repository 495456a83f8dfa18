# Raises the right errors but never closes the socket on the failure paths.
def connect_nonblocking(address, timeout):
    """Connect a non-blocking TCP socket to `address` within `timeout` s; return it, still non-blocking."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.connect_ex(address)
    _, writable, failed = select.select([], [sock], [sock], timeout)
    if not writable and not failed:
        raise TimeoutError(f"connecting to {address} took longer than {timeout} s")
    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err:
        raise OSError(err, os.strerror(err))
    return sock
