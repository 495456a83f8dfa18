# Writes each line without its b'\n', so the server never sees the end of a line and both sides wait.
def exchange_lines(port, lines):
    """Send each str in `lines` as a line to 127.0.0.1:port; return the reply lines (str, UTF-8)."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(2.0)) as sock, \
            sock.makefile("rw", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line)
            f.flush()
            replies.append(f.readline().rstrip("\n"))
    return replies
