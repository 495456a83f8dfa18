# Mistake: sleeps the full backoff delay even when it goes past the budget.
def connect_with_retry(address, budget, first_delay=0.01):
    """Connect to address, retrying refusals with exponential backoff for at most `budget` seconds."""
    deadline = time.monotonic() + budget
    delay = first_delay
    while True:
        try:
            return socket.create_connection(address, timeout=max(deadline - time.monotonic(), 0.01))
        except ConnectionRefusedError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(delay)  # sleep-ok: backoff is the exercise
            delay *= 2
