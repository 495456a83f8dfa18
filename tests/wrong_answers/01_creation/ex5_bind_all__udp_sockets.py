# mistake: creates SOCK_DGRAM (UDP) sockets where the task asks for TCP; binding and the ports look the same
def bind_all(hosts):
    """Bind one TCP socket per address to port 0; return the ports; close everything, always."""
    sockets = []
    try:
        for host in hosts:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            s = socket.socket(family, socket.SOCK_DGRAM)
            sockets.append(s)
            s.bind((host, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
