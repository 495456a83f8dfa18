# mistake: tests the byte with chr(...).isalpha(), which is True for Latin-1 letters such as 0xE9 ('é'), not only ASCII
def sniff(sock):
    """Classify the waiting data by its first byte ("tls", "text", "binary"; None at EOF) without consuming it."""
    first = sock.recv(1, socket.MSG_PEEK)
    if not first:
        return None
    if first[0] == 0x16:
        return "tls"
    if chr(first[0]).isalpha():
        return "text"
    return "binary"
