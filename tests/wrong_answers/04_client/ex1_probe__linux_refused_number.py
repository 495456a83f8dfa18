# mistake: compares with Linux's number 111 for "connection refused" (61 on macOS, 10061 on Windows)
def probe(port):
    """True if something accepts TCP connections on 127.0.0.1:port, False if the connection is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        code = sock.connect_ex(("127.0.0.1", port))
    if code == 0:
        return True
    if code == 111:
        return False
    raise OSError(code, os.strerror(code))
