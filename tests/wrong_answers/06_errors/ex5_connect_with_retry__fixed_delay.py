# Mistake: retries after the same short delay every time (no exponential backoff), hammering the server.
def connect_with_retry(address, budget, first_delay=0.01):
    """Connect to address, retrying refusals with exponential backoff for at most `budget` seconds."""
    deadline = time.monotonic() + budget
    while True:
        try:
            return socket.create_connection(address, timeout=max(deadline - time.monotonic(), 0.01))
        except ConnectionRefusedError:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise
            time.sleep(min(first_delay, remaining))  # sleep-ok: backoff is the exercise
