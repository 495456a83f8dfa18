# Watches EVENT_WRITE all the time, even with nothing to send: the selector wakes at once, a busy-wait.
def serve_many(listener, n):
    """Echo n clients at once from this one thread with a selector; return when all n have closed."""
    limit = 256 * 1024
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    accepted = closed = 0

    def close(conn):
        nonlocal closed
        sel.unregister(conn)
        conn.close()
        closed += 1

    try:
        while closed < n:
            for key, events in sel.select():
                if key.fileobj is listener:
                    conn, _ = listener.accept()
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, bytearray())
                    accepted += 1
                    if accepted == n:
                        sel.unregister(listener)
                    continue
                conn, outbox = key.fileobj, key.data
                try:
                    if events & selectors.EVENT_READ:
                        data = conn.recv(65536)
                        if not data:
                            close(conn)
                            continue
                        outbox += data
                    if outbox:
                        del outbox[:conn.send(outbox)]
                except BlockingIOError:
                    pass
                except OSError:
                    close(conn)
                    continue
                wanted = selectors.EVENT_WRITE
                if len(outbox) < limit:
                    wanted |= selectors.EVENT_READ
                if wanted != key.events:
                    sel.modify(conn, wanted, outbox)
    finally:
        sel.close()
