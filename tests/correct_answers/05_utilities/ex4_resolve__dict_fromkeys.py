# style: dict.fromkeys keeps the first occurrence's order; proto=IPPROTO_TCP instead of type
def resolve(host, port):
    """Return the distinct (family, sockaddr) TCP addresses of host, in getaddrinfo's order."""
    infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    return list(dict.fromkeys((info[0], info[4]) for info in infos))
