# mistake: no timeout on the connection: a server that never sends or closes would hang it for ever
def fetch_all(port):
    """Connect to 127.0.0.1:port, read until the server closes, and return every byte received."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)
