# Uses settimeout(timeout) and a blocking connect, so the socket it returns is not non-blocking.
def connect_nonblocking(address, timeout):
    """Connect a non-blocking TCP socket to `address` within `timeout` s; return it, still non-blocking."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return sock
