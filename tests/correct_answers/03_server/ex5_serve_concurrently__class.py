# style: a Thread subclass per client
def serve_concurrently(listener, n):
    """Serve n echo clients at the same time (one thread each); return when all are done."""
    class Echo(threading.Thread):
        def __init__(self, conn):
            super().__init__(daemon=True)
            self.conn = conn

        def run(self):
            try:
                while True:
                    data = self.conn.recv(4096)
                    if not data:
                        break
                    self.conn.sendall(data)
            finally:
                self.conn.close()

    threads = []
    for _ in range(n):
        t = Echo(listener.accept()[0])
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
