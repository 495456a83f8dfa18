# Packs the length with '<I' (little-endian) instead of network byte order '!I'.
def send_msg(sock, payload):
    """Send one message: a 4-byte big-endian length header ('!I'), then the payload bytes."""
    sock.sendall(struct.pack("<I", len(payload)) + payload)
