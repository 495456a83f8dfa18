# Sets SO_REUSEADDR after bind(), too late: bind has already failed (or succeeded) without it.
def make_listener(port):
    """Return a TCP socket listening on ('127.0.0.1', port) with SO_REUSEADDR set before bind."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.listen()
    except BaseException:
        sock.close()
        raise
    return sock
