# Closes the socket only after a clean end: when the timeout fires, the socket is left open.
def fetch_with_timeout(port, timeout):
    """Read everything 127.0.0.1:port sends until it closes; TimeoutError if any wait exceeds `timeout`."""
    chunks = []
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)
