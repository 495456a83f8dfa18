# mistake: no timeout on the connection: a server that never replies would hang it for ever
def request(port, data):
    """Send `data` to 127.0.0.1:port, half-close, and return the whole reply."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)
