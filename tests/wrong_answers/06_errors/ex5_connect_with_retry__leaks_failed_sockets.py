# Mistake: makes a new socket for each attempt but never closes the ones whose connection was refused.
def connect_with_retry(address, budget, first_delay=0.01):
    """Connect to address, retrying refusals with exponential backoff for at most `budget` seconds."""
    deadline = time.monotonic() + budget
    delay = first_delay
    while True:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            sock.connect(address)
            return sock
        except ConnectionRefusedError:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise
            time.sleep(min(delay, remaining))  # sleep-ok: backoff is the exercise
            delay *= 2
