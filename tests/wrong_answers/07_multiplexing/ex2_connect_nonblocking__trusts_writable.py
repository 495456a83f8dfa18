# Takes "writable" to mean "connected" and never reads SO_ERROR, so a refused connect looks like success.
def connect_nonblocking(address, timeout):
    """Connect a non-blocking TCP socket to `address` within `timeout` s; return it, still non-blocking."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.connect_ex(address)
    _, writable, failed = select.select([], [sock], [sock], timeout)
    if not writable and not failed:
        sock.close()
        raise TimeoutError(f"connecting to {address} took longer than {timeout} s")
    return sock
