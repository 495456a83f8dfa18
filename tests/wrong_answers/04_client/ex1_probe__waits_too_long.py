# mistake: a timeout, but of five seconds: an address that never answers keeps probe waiting that long
def probe(port):
    """True if something accepts TCP connections on 127.0.0.1:port, False if the connection is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        code = sock.connect_ex(("127.0.0.1", port))
    if code == 0:
        return True
    if code in probes.REFUSED_ERRNOS:
        return False
    raise OSError(code, os.strerror(code))
