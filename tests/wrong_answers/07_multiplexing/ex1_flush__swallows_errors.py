# Catches every OSError as "not now", so a dead connection looks like a full one and is never closed.
def flush(sock, outbox):
    """Send what the non-blocking `sock` takes now from the front of `outbox`; True if it is empty."""
    while outbox:
        try:
            n = sock.send(outbox)
        except OSError:
            return False
        del outbox[:n]
    return True
