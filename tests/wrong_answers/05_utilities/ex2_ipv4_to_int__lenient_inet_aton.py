# Mistake: uses the lenient inet_aton, which accepts shorthand such as "127.1" and trailing junk.
def ipv4_to_int(text):
    """Return the 32-bit integer for a strict dotted-quad IPv4 address; ValueError otherwise."""
    try:
        packed = socket.inet_aton(text)
    except OSError:
        raise ValueError(f"{text!r} is not a dotted-quad IPv4 address") from None
    return struct.unpack("!I", packed)[0]
