# Mistake: moves on to the next address without closing the socket whose connection failed.
def first_reachable(addresses, timeout):
    """Return a socket connected to the first reachable (family, sockaddr); close every other one."""
    if not addresses:
        raise ValueError("no addresses to try")
    last_error = None
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            last_error = exc
    raise last_error
