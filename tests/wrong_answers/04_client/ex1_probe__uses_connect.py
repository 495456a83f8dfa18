# Uses connect(), which raises ConnectionRefusedError instead of returning an error code.
def probe(port):
    """True if something accepts TCP connections on 127.0.0.1:port, False if the connection is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(scaled(1.0))
        sock.connect(("127.0.0.1", port))
    return True
