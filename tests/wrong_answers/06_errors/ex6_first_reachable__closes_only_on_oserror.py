# Mistake: closes the socket in `except OSError` only; any other exception (a bad port) leaks it.
def first_reachable(addresses, timeout):
    """Return a socket connected to the first reachable (family, sockaddr); close every other one."""
    if not addresses:
        raise ValueError("no addresses to try")
    last_error = None
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last_error = exc
    raise last_error
