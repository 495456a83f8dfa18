# Mistake: reads the first byte with a plain recv(), which removes it from the stream.
def sniff(sock):
    """Classify the waiting data by its first byte ("tls", "text", "binary"; None at EOF) without consuming it."""
    first = sock.recv(1)
    if not first:
        return None
    if first == b"\x16":
        return "tls"
    if first.isalpha():
        return "text"
    return "binary"
