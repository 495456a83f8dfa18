# Mistake: closes the sockets only on the success path; when a bind fails, the ones already open leak.
def bind_all(hosts):
    """Bind one TCP socket per address to port 0; return the ports; close everything, always."""
    sockets = []
    for host in hosts:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.bind((host, 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports
