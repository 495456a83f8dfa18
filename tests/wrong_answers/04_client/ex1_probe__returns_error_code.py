# Returns connect_ex()'s code itself (0 for success!) instead of a bool.
def probe(port):
    """True if something accepts TCP connections on 127.0.0.1:port, False if the connection is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(scaled(1.0))
        return sock.connect_ex(("127.0.0.1", port))
