# Calls recv() once and returns whatever it got: one recv is not the whole reply.
def fetch_all(port):
    """Connect to 127.0.0.1:port, read until the server closes, and return every byte received."""
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(2.0)) as sock:
        return sock.recv(65536)
