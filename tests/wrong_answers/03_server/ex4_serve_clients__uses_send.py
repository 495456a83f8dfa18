# mistake: send() instead of sendall(): when send() sends only part, the rest of the echo is lost
def serve_clients(listener, n):
    """Serve n echo clients in turn on `listener`, closing each connection; then return."""
    for _ in range(n):
        conn, _address = listener.accept()
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.send(data)
