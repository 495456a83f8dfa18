# Uses send() for the frame and ignores its return value, so part of the frame may never be sent.
def send_msg(sock, payload):
    """Send one message: a 4-byte big-endian length header ('!I'), then the payload bytes."""
    sock.send(struct.pack("!I", len(payload)) + payload)
