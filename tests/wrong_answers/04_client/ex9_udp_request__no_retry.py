# Sends once and lets the first timeout escape: a single lost datagram makes the request fail.
def udp_request(port, data, timeout, retries):
    """Send `data` to UDP 127.0.0.1:port and return the reply, retrying up to `retries` times on timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(data, ("127.0.0.1", port))
        reply, _address = sock.recvfrom(65535)
        return reply
