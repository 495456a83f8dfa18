# style: recvfrom_into a preallocated buffer
def serve_udp(sock, count):
    """Echo exactly `count` datagrams received on the bound UDP socket `sock` back to their senders."""
    buf = bytearray(65535)
    for _ in range(count):
        n, peer = sock.recvfrom_into(buf)
        sock.sendto(buf[:n], peer)
