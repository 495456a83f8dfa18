# style: try/except OSError that closes and re-raises, return inside the try
def make_listener(port):
    """Return a TCP socket listening on ('127.0.0.1', port) with SO_REUSEADDR set before bind."""
    sock = socket.socket()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, True)
        sock.bind(("127.0.0.1", port))
        sock.listen(5)
        return sock
    except OSError:
        sock.close()
        raise
