# style: a plain socket per attempt closed in finally, settimeout(time left), a for loop over attempts
def connect_with_retry(address, budget, first_delay=0.01):
    """Connect to address, retrying refusals with exponential backoff for at most `budget` seconds."""
    end = time.monotonic() + budget
    delay = first_delay
    for _attempt in iter(int, 1):          # for ever; every path returns or raises
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        done = False
        try:
            sock.settimeout(max(end - time.monotonic(), 0.001))
            sock.connect(address)
            done = True
            return sock
        except ConnectionRefusedError:
            left = end - time.monotonic()
            if left <= 0:
                raise
        finally:
            if not done:
                sock.close()
        time.sleep(min(delay, left))
        delay = delay * 2
