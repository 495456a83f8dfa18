# Mistake: recognises EADDRINUSE correctly but returns None without closing the socket it created.
def claim_port(host, port):
    """Return a TCP socket bound to (host, port), or None if that address is already in use."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return None
        sock.close()
        raise
    return sock
