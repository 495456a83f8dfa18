# Mistake: keeps the sockets open in a module-level list "so the ports stay reserved"; nothing ever closes them.
RESERVED = []


def bind_all(hosts):
    """Bind one TCP socket per address to port 0; return the ports; close everything, always."""
    sockets = []
    for host in hosts:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        RESERVED.append(s)
        s.bind((host, 0))
        sockets.append(s)
    return [s.getsockname()[1] for s in sockets]
