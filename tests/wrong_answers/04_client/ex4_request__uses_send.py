# mistake: send() instead of sendall(): when send() sends only part, the request is cut short
def request(port, data):
    """Send `data` to 127.0.0.1:port, half-close, and return the whole reply."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=2.0) as sock:
        sock.send(data)
        sock.shutdown(socket.SHUT_WR)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)
