# Uses shutdown(SHUT_RDWR), which also closes the receiving side, so the reply can never be read.
def request(port, data):
    """Send `data` to 127.0.0.1:port, half-close, and return the whole reply."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(2.0)) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_RDWR)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)
