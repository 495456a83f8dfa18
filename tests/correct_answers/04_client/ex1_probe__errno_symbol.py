# style: contextlib.closing and errno symbols, OSError for any other code
def probe(port):
    """True if something accepts TCP connections on 127.0.0.1:port, False if the connection is refused."""
    import contextlib
    with contextlib.closing(socket.socket()) as s:
        s.settimeout(1.0)
        result = s.connect_ex(("127.0.0.1", port))
    if result == 0:
        return True
    if result in probes.REFUSED_ERRNOS:
        return False
    raise OSError(result, os.strerror(result))
