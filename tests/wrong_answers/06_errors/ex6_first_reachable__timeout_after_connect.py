# mistake: sets the timeout after connect(), so a silent address blocks the connect itself for minutes
def first_reachable(addresses, timeout):
    """Return a socket connected to the first reachable (family, sockaddr); close every other one."""
    if not addresses:
        raise ValueError("no addresses to try")
    last_error = None
    for family, sockaddr in addresses:
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            last_error = exc
            continue
        connected = False
        try:
            sock.connect(sockaddr)
            sock.settimeout(timeout)
            connected = True
            return sock
        except OSError as exc:
            last_error = exc
        finally:
            if not connected:
                sock.close()
    raise last_error
