# mistake: retries at once, without sleeping: hundreds of connection attempts hammer the server in the budget
def connect_with_retry(address, budget, first_delay=0.01):
    """Connect to address, retrying refusals with exponential backoff for at most `budget` seconds."""
    deadline = time.monotonic() + budget
    while True:
        remaining = deadline - time.monotonic()
        try:
            return socket.create_connection(address, timeout=max(remaining, 0.01))
        except ConnectionRefusedError:
            if deadline - time.monotonic() <= 0:
                raise
