# mistake: no timeout on the connection: a server that never answers a line would hang readline() for ever
def exchange_lines(port, lines):
    """Send each str in `lines` as a line to 127.0.0.1:port; return the reply lines (str, UTF-8)."""
    replies = []
    with socket.create_connection(("127.0.0.1", port)) as sock, \
            sock.makefile("rw", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")
            f.flush()
            replies.append(f.readline().rstrip("\n"))
    return replies
