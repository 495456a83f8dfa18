# Uses a fixed port (50007, as in the classic examples): works once, but a second server fails with EADDRINUSE.
def start_server():
    """Open a listening TCP socket on 127.0.0.1, port chosen by the OS; return (sock, port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 50007))
        sock.listen()
    except BaseException:
        sock.close()
        raise
    return sock, 50007
