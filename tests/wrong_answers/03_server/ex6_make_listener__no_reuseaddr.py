# Never sets SO_REUSEADDR, so the server cannot restart while old connections are in TIME_WAIT.
def make_listener(port):
    """Return a TCP socket listening on ('127.0.0.1', port) with SO_REUSEADDR set before bind."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen()
    except BaseException:
        sock.close()
        raise
    return sock
