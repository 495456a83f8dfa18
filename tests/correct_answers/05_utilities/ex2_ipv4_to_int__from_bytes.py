# style: int.from_bytes on inet_pton's bytes, OSError turned into ValueError
def ipv4_to_int(text):
    """Return the 32-bit integer for a strict dotted-quad IPv4 address; ValueError otherwise."""
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except OSError as exc:
        raise ValueError(str(exc)) from exc
