# Mistake: validates the address but returns the text unchanged instead of inet_ntop's canonical form.
def normalize_ip(text):
    """Return (family, canonical text) for an IPv4 or IPv6 address; ValueError otherwise."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
        except OSError:
            continue
        return family, text
    raise ValueError(f"{text!r} is neither an IPv4 nor an IPv6 address")
