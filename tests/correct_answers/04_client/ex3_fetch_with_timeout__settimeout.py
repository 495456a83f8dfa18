# style: a plain socket, settimeout before connect, bytearray accumulation
def fetch_with_timeout(port, timeout):
    """Read everything 127.0.0.1:port sends until it closes; TimeoutError if any wait exceeds `timeout`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", port))
        data = bytearray()
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return bytes(data)
            data += chunk
    finally:
        sock.close()
