# Mistake: no error handling at all; a port in use crashes the caller with OSError.
def claim_port(host, port):
    """Return a TCP socket bound to (host, port), or None if that address is already in use."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, port))
    return sock
