# style: makefile("rb").read() reads until EOF
def fetch_all(port):
    """Connect to 127.0.0.1:port, read until the server closes, and return every byte received."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock, sock.makefile("rb") as f:
        return f.read()
