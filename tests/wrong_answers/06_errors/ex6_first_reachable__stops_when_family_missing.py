# mistake: gives up (break) when a socket of one family cannot be created, instead of trying the next address
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
            break
        connected = False
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            connected = True
            return sock
        except OSError as exc:
            last_error = exc
        finally:
            if not connected:
                sock.close()
    raise last_error
