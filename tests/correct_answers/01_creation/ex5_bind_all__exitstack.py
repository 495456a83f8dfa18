# style: contextlib.ExitStack closes every socket on every path
def bind_all(hosts):
    """Bind one TCP socket per address to port 0; return the ports; close everything, always."""
    import contextlib
    with contextlib.ExitStack() as stack:
        ports = []
        for host in hosts:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            s = stack.enter_context(socket.socket(family, socket.SOCK_STREAM))
            s.bind((host, 0))
            ports.append(s.getsockname()[1])
        return ports
