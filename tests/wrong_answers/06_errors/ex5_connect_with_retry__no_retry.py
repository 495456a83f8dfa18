# Mistake: tries once; a server that is still starting up is never reached.
def connect_with_retry(address, budget, first_delay=0.01):
    """Connect to address, retrying refusals with exponential backoff for at most `budget` seconds."""
    return socket.create_connection(address, timeout=budget)
