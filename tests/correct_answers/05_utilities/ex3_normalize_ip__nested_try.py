# style: nested try blocks instead of a loop over families
def normalize_ip(text):
    """Return (family, canonical text) for an IPv4 or IPv6 address; ValueError otherwise."""
    try:
        return socket.AF_INET, socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, text))
    except OSError:
        try:
            return socket.AF_INET6, socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, text))
        except OSError:
            raise ValueError(text) from None
