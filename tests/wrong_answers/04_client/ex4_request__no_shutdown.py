# Forgets shutdown(SHUT_WR): the server waits for the end of the request, the client for the reply.
def request(port, data):
    """Send `data` to 127.0.0.1:port, half-close, and return the whole reply."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(5.0)) as sock:
        sock.sendall(data)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)
