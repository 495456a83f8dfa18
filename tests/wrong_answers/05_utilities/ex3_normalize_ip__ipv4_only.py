# Mistake: only tries AF_INET, so every IPv6 address is rejected.
def normalize_ip(text):
    """Return (family, canonical text) for an IPv4 or IPv6 address; ValueError otherwise."""
    try:
        packed = socket.inet_pton(socket.AF_INET, text)
    except OSError:
        raise ValueError(f"{text!r} is not an IP address") from None
    return socket.AF_INET, socket.inet_ntop(socket.AF_INET, packed)
