# Mistake: returns None for every OSError, hiding errors that have nothing to do with a port in use.
def claim_port(host, port):
    """Return a TCP socket bound to (host, port), or None if that address is already in use."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        return None
    return sock
