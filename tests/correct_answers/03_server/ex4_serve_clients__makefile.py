# style: each client read through makefile("rb") with read1, closed by contextlib.closing
def serve_clients(listener, n):
    """Serve n echo clients in turn on `listener`, closing each connection; then return."""
    import contextlib
    for _ in range(n):
        conn, _ = listener.accept()
        with contextlib.closing(conn), conn.makefile("rb") as reader:
            while True:
                data = reader.read1(65536)
                if not data:
                    break
                conn.sendall(data)
