# Returns only the socket, not the (sock, port) pair: the caller cannot learn which port the OS chose.
def start_server():
    """Open a listening TCP socket on 127.0.0.1, port chosen by the OS; return (sock, port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
    except BaseException:
        sock.close()
        raise
    return sock
