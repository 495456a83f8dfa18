# style: recv_into a growing bytearray
def request(port, data):
    """Send `data` to 127.0.0.1:port, half-close, and return the whole reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        reply = bytearray()
        buf = bytearray(65536)
        while (n := sock.recv_into(buf)):
            reply += buf[:n]
        return bytes(reply)
