# Mistake: returns the constants' values (or None) instead of True/False.
def platform_support():
    """Return {name: bool} for AF_UNIX, IPv6, SOCK_SEQPACKET, SOCK_RDM, SOCK_NONBLOCK, SOCK_CLOEXEC."""
    return {
        "AF_UNIX": getattr(socket, "AF_UNIX", None),
        "IPv6": getattr(socket, "AF_INET6", None),
        "SOCK_SEQPACKET": getattr(socket, "SOCK_SEQPACKET", None),
        "SOCK_RDM": getattr(socket, "SOCK_RDM", None),
        "SOCK_NONBLOCK": getattr(socket, "SOCK_NONBLOCK", None),
        "SOCK_CLOEXEC": getattr(socket, "SOCK_CLOEXEC", None),
    }
