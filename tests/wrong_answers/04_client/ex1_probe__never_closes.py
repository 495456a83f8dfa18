# Opens a socket and never closes it: every probe leaves a socket for the garbage collector.
def probe(port):
    """True if something accepts TCP connections on 127.0.0.1:port, False if the connection is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(scaled(1.0) + probes.REFUSAL_DELAY)
    code = sock.connect_ex(("127.0.0.1", port))
    if code == 0:
        return True
    if code in probes.REFUSED_ERRNOS:
        return False
    raise OSError(code, os.strerror(code))
