# Starts a thread per connection but returns without joining them, before the clients are served.
def serve_concurrently(listener, n):
    """Serve n echo clients at the same time (one thread each); return when all are done."""
    def echo(conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)

    for _ in range(n):
        conn, _address = listener.accept()
        threading.Thread(target=echo, args=(conn,), daemon=True).start()
