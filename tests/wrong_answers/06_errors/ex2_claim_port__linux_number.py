# mistake: compares exc.errno with 98, Linux's EADDRINUSE (48 on macOS, 10048 on Windows)
def claim_port(host, port):
    """Return a TCP socket bound to (host, port), or None if that address is already in use."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == 98:
            return None
        raise
    return sock
