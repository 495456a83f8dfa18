# Sets the timeout correctly but calls recv() once, so a large reply is cut short.
def fetch_with_timeout(port, timeout):
    """Read everything 127.0.0.1:port sends until it closes; TimeoutError if any wait exceeds `timeout`."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        return sock.recv(65536)
