# Sends a ping and counts the port as open only if something answers: a silent server is reported closed.
def probe(port):
    """True if something accepts TCP connections on 127.0.0.1:port, False if the connection is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(scaled(0.3))
        if sock.connect_ex(("127.0.0.1", port)) != 0:
            return False
        try:
            sock.sendall(b"ping")
            return sock.recv(4) == b"ping"
        except TimeoutError:
            return False
