# Mistake: uses the lenient inet_aton for IPv4, so "127.1" is accepted as 127.0.0.1.
def normalize_ip(text):
    """Return (family, canonical text) for an IPv4 or IPv6 address; ValueError otherwise."""
    try:
        return socket.AF_INET, socket.inet_ntoa(socket.inet_aton(text))
    except OSError:
        pass
    try:
        packed = socket.inet_pton(socket.AF_INET6, text)
    except OSError:
        raise ValueError(f"{text!r} is neither an IPv4 nor an IPv6 address") from None
    return socket.AF_INET6, socket.inet_ntop(socket.AF_INET6, packed)
