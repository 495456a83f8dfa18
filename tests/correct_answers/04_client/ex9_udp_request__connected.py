# style: a connected UDP socket (connect + send/recv), socket.timeout caught, for/else
def udp_request(port, data, timeout, retries):
    """Send `data` to UDP 127.0.0.1:port and return the reply, retrying up to `retries` times on timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("127.0.0.1", port))
        s.settimeout(timeout)
        attempts = 0
        while attempts <= retries:
            attempts += 1
            s.send(data)
            try:
                return s.recv(65535)
            except socket.timeout:
                pass
        raise socket.timeout("no reply")
