# Retries at once on BlockingIOError (a busy-wait): it never returns while the reader is not reading.
def flush(sock, outbox):
    """Send what the non-blocking `sock` takes now from the front of `outbox`; True if it is empty."""
    while outbox:
        try:
            n = sock.send(outbox)
        except BlockingIOError:
            continue
        del outbox[:n]
    return True
