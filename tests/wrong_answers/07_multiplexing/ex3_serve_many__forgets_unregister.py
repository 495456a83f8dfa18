# Closes finished connections without unregistering them; the next connection reuses the descriptor.
def serve_many(listener, n):
    """Echo n clients at once from this one thread with a selector; return when all n have closed."""
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    closed = 0
    try:
        while closed < n:
            for key, events in sel.select():
                if key.fileobj is listener:
                    conn, _ = listener.accept()
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, bytearray())
                    continue
                conn, outbox = key.fileobj, key.data
                try:
                    if events & selectors.EVENT_READ:
                        data = conn.recv(65536)
                        if not data:
                            conn.close()
                            closed += 1
                            continue
                        outbox += data
                    if outbox:
                        del outbox[:conn.send(outbox)]
                except BlockingIOError:
                    pass
                except OSError:
                    conn.close()
                    closed += 1
                    continue
                wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if outbox else 0)
                if wanted != key.events:
                    sel.modify(conn, wanted, outbox)
    finally:
        sel.close()
