# Decodes the reply and returns a str; the task asks for the bytes as received.
def fetch_all(port):
    """Connect to 127.0.0.1:port, read until the server closes, and return every byte received."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(2.0)) as sock:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode()
