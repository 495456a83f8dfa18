# Half-closes correctly but reads the reply with one recv(), so a large reply is cut short.
def request(port, data):
    """Send `data` to 127.0.0.1:port, half-close, and return the whole reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(2.0)) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        return sock.recv(65536)
