# Reads a fixed number of bytes (one recv(4)) as if every reply were that long, instead of reading to EOF.
def request(port, data):
    """Send `data` to 127.0.0.1:port, half-close, and return the whole reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(2.0)) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        return sock.recv(4)
