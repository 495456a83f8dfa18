# Mistake: lets inet_pton's OSError escape, so bad input looks like a network failure.
def ipv4_to_int(text):
    """Return the 32-bit integer for a strict dotted-quad IPv4 address; ValueError otherwise."""
    return struct.unpack("!I", socket.inet_pton(socket.AF_INET, text))[0]
