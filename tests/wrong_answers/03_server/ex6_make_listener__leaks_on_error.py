# mistake: no cleanup on the error path: when bind() or listen() fails the socket is left open
def make_listener(port):
    """Return a TCP socket listening on ('127.0.0.1', port) with SO_REUSEADDR set before bind."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock
