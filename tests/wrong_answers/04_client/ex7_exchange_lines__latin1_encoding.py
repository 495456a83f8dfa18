# Opens the file with encoding="latin-1": ASCII lines pass, but any other character comes back garbled.
def exchange_lines(port, lines):
    """Send each str in `lines` as a line to 127.0.0.1:port; return the reply lines (str, UTF-8)."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(2.0)) as sock, \
            sock.makefile("rw", encoding="latin-1", newline="\n") as f:
        for line in lines:
            f.write(line.encode("utf-8").decode("latin-1") + "\n")
            f.flush()
            replies.append(f.readline().rstrip("\n"))
    return replies
