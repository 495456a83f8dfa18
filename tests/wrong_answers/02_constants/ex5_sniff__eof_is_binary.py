# Mistake: forgets that a peek returns b"" at end of stream, so a closed connection is called "binary".
def sniff(sock):
    """Classify the waiting data by its first byte ("tls", "text", "binary"; None at EOF) without consuming it."""
    first = sock.recv(1, socket.MSG_PEEK)
    if first == b"\x16":
        return "tls"
    if first.isalpha():
        return "text"
    return "binary"
