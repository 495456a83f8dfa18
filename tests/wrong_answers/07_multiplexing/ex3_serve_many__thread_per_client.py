# Falls back to a thread per client (section 03's way): it works, but the exercise is one thread for all.
def serve_many(listener, n):
    """Echo n clients at once from this one thread with a selector; return when all n have closed."""
    def echo(conn):
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass

    threads = []
    for _ in range(n):
        conn, _ = listener.accept()
        threads.append(threading.Thread(target=echo, args=(conn,)))
        threads[-1].start()
    for t in threads:
        t.join()
