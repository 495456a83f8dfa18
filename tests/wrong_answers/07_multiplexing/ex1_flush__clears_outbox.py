# Calls send() once and clears the whole outbox, as if send() always took everything: the rest is lost.
def flush(sock, outbox):
    """Send what the non-blocking `sock` takes now from the front of `outbox`; True if it is empty."""
    try:
        sock.send(outbox)
    except BlockingIOError:
        return False
    outbox.clear()
    return True
