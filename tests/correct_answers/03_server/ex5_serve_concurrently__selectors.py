# style: one thread, a selectors loop over all connections (accept all n, then echo whatever is ready)
def serve_concurrently(listener, n):
    """Serve n echo clients at the same time (one thread each); return when all are done."""
    import selectors
    sel = selectors.DefaultSelector()
    conns = []
    try:
        for _ in range(n):
            conn, _address = listener.accept()
            conns.append(conn)
            sel.register(conn, selectors.EVENT_READ)
        remaining = n
        while remaining:
            for key, _events in sel.select():
                conn = key.fileobj
                data = conn.recv(65536)
                if data:
                    conn.sendall(data)
                else:
                    sel.unregister(conn)
                    conn.close()
                    remaining -= 1
    finally:
        for conn in conns:
            conn.close()
        sel.close()
