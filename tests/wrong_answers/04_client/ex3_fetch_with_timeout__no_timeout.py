# Ignores the timeout argument, so a silent server makes it wait for ever.
def fetch_with_timeout(port, timeout):
    """Read everything 127.0.0.1:port sends until it closes; TimeoutError if any wait exceeds `timeout`."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)
