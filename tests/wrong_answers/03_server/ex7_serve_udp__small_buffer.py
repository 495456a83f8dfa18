# Receives with a 512-byte buffer, so larger datagrams are silently truncated.
def serve_udp(sock, count):
    """Echo exactly `count` datagrams received on the bound UDP socket `sock` back to their senders."""
    for _ in range(count):
        data, address = sock.recvfrom(512)
        sock.sendto(data, address)
