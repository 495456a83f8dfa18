# mistake: no timeout on each attempt: a server that never answers keeps one connect waiting past the budget
def connect_with_retry(address, budget, first_delay=0.01):
    """Connect to address, retrying refusals with exponential backoff for at most `budget` seconds."""
    deadline = time.monotonic() + budget
    delay = first_delay
    while True:
        try:
            return socket.create_connection(address)
        except ConnectionRefusedError:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise
            time.sleep(min(delay, remaining))
            delay *= 2
