# Mistake: catches the OSError and returns the ports bound so far, hiding the failure from the caller.
def bind_all(hosts):
    """Bind one TCP socket per address to port 0; return the ports; close everything, always."""
    sockets = []
    try:
        for host in hosts:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            s = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(s)
            s.bind((host, 0))
    except OSError:
        sockets.pop().close()
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports
