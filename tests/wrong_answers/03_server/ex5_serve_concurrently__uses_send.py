# mistake: send() instead of sendall() in the per-client thread: part of the echo is lost
def serve_concurrently(listener, n):
    """Serve n echo clients at the same time (one thread each); return when all are done."""
    def echo(conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.send(data)

    workers = []
    for _ in range(n):
        conn, _address = listener.accept()
        worker = threading.Thread(target=echo, args=(conn,), daemon=True)
        worker.start()
        workers.append(worker)
    for worker in workers:
        worker.join()
