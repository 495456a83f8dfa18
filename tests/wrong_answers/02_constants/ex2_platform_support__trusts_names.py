# Mistake: trusts that a defined name works: IPv6 is "AF_INET6 exists", never checking has_ipv6 or binding ::1.
def platform_support():
    """Return {name: bool} for AF_UNIX, IPv6, SOCK_SEQPACKET, SOCK_RDM, SOCK_NONBLOCK, SOCK_CLOEXEC."""
    return {
        "AF_UNIX": hasattr(socket, "AF_UNIX"),
        "IPv6": hasattr(socket, "AF_INET6"),
        "SOCK_SEQPACKET": hasattr(socket, "SOCK_SEQPACKET"),
        "SOCK_RDM": hasattr(socket, "SOCK_RDM"),
        "SOCK_NONBLOCK": hasattr(socket, "SOCK_NONBLOCK"),
        "SOCK_CLOEXEC": hasattr(socket, "SOCK_CLOEXEC"),
    }
