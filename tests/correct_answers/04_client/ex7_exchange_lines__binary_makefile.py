# style: a binary makefile, encoding and decoding each line by hand
def exchange_lines(port, lines):
    """Send each str in `lines` as a line to 127.0.0.1:port; return the reply lines (str, UTF-8)."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock, sock.makefile("rwb") as f:
        for line in lines:
            f.write(line.encode("utf-8") + b"\n")
            f.flush()
            out.append(f.readline().decode("utf-8").rstrip("\n"))
    return out
