# style: for/else, socket.timeout, recvfrom checked against the server's address
def udp_request(port, data, timeout, retries):
    """Send `data` to UDP 127.0.0.1:port and return the reply, retrying up to `retries` times on timeout."""
    server = ("127.0.0.1", port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.settimeout(timeout)
        for _ in range(1 + retries):
            sock.sendto(data, server)
            try:
                reply, sender = sock.recvfrom(65535)
            except socket.timeout:
                continue
            if sender == server:
                return reply
        else:
            raise socket.timeout(f"no reply after {1 + retries} attempts")
    finally:
        sock.close()
