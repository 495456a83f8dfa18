# Mistake: reads the packed address in the machine's byte order instead of network order.
def ipv4_to_int(text):
    """Return the 32-bit integer for a strict dotted-quad IPv4 address; ValueError otherwise."""
    try:
        packed = socket.inet_pton(socket.AF_INET, text)
    except OSError:
        raise ValueError(f"{text!r} is not a dotted-quad IPv4 address") from None
    return int.from_bytes(packed, sys.byteorder)
