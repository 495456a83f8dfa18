# Receives with a large recv() and copies the start into the buffer, consuming bytes that belong to the next reader.
def recv_exactly_into(sock, buf):
    """Fill the writable buffer `buf` completely from `sock` with recv_into; EOFError if the peer closes."""
    view = memoryview(buf)
    data = b""
    while len(data) < len(view):
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed early")
        data += chunk
    view[:] = data[:len(view)]
