# style: int.to_bytes for the header, two sendall calls
def send_msg(sock, payload):
    """Send one message: a 4-byte big-endian length header ('!I'), then the payload bytes."""
    sock.sendall(len(payload).to_bytes(4, "big"))
    sock.sendall(payload)
