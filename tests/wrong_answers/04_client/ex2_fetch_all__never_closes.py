# Reads correctly but never closes its socket, leaving it to the garbage collector.
def fetch_all(port):
    """Connect to 127.0.0.1:port, read until the server closes, and return every byte received."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=scaled(2.0))
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)
