# style: socket() and connect() in one try with an else clause; errors collected in a list
def first_reachable(addresses, timeout):
    """Return a socket connected to the first reachable (family, sockaddr); close every other one."""
    if len(addresses) == 0:
        raise ValueError("empty address list")
    errors = []
    for family, sockaddr in addresses:
        sock = None
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(sockaddr)
        except OSError as exc:
            errors.append(exc)
            if sock is not None:
                sock.close()
        except BaseException:
            if sock is not None:
                sock.close()
            raise
        else:
            return sock
    raise errors[-1]
