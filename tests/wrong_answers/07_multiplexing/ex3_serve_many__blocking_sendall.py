# Echoes with a blocking sendall() inside the event loop: one client that does not read stalls them all.
def serve_many(listener, n):
    """Echo n clients at once from this one thread with a selector; return when all n have closed."""
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    closed = 0
    try:
        while closed < n:
            for key, _ in sel.select():
                if key.fileobj is listener:
                    conn, _ = listener.accept()
                    sel.register(conn, selectors.EVENT_READ)
                    continue
                conn = key.fileobj
                try:
                    data = conn.recv(65536)
                    if data:
                        conn.sendall(data)
                        continue
                except OSError:
                    pass
                sel.unregister(conn)
                conn.close()
                closed += 1
    finally:
        sel.close()
