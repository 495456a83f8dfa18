# style: compare the byte's integer value (first[0]) instead of bytes slices
def sniff(sock):
    """Classify the waiting data by its first byte ("tls", "text", "binary"; None at EOF) without consuming it."""
    peeked = sock.recv(1, socket.MSG_PEEK)
    if len(peeked) == 0:
        return None
    value = peeked[0]
    if value == 0x16:
        return "tls"
    if chr(value).isascii() and chr(value).isalpha():
        return "text"
    return "binary"
