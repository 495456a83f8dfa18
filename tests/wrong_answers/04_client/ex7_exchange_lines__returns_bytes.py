# Uses a binary makefile and returns the reply lines as bytes instead of str.
def exchange_lines(port, lines):
    """Send each str in `lines` as a line to 127.0.0.1:port; return the reply lines (str, UTF-8)."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(2.0)) as sock, \
            sock.makefile("rwb") as f:
        for line in lines:
            f.write(line.encode() + b"\n")
            f.flush()
            replies.append(f.readline().rstrip(b"\n"))
    return replies
