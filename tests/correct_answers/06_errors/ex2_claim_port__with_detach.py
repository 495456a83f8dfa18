# style: a `with` block closes the socket on every path; a successful one is handed over with detach()
def claim_port(host, port):
    """Return a TCP socket bound to (host, port), or None if that address is already in use."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno in probes.ADDRINUSE_ERRNOS:
                return None
            raise
        return socket.socket(s.family, s.type, s.proto, fileno=s.detach())
