# mistake: "IPv6" only creates an AF_INET6 socket and never binds ("::1", 0), so a machine without ::1 says True
def platform_support():
    """Return {name: bool} for AF_UNIX, IPv6, SOCK_SEQPACKET, SOCK_RDM, SOCK_NONBLOCK, SOCK_CLOEXEC."""
    def works(family, kind):
        try:
            with socket.socket(family, kind):
                pass
        except OSError:
            return False
        return True

    support = {
        "AF_UNIX": hasattr(socket, "AF_UNIX") and works(socket.AF_UNIX, socket.SOCK_STREAM),
        "IPv6": bool(socket.has_ipv6) and works(socket.AF_INET6, socket.SOCK_STREAM),
        "SOCK_SEQPACKET": hasattr(socket, "SOCK_SEQPACKET"),
        "SOCK_RDM": hasattr(socket, "SOCK_RDM"),
    }
    for flag in ("SOCK_NONBLOCK", "SOCK_CLOEXEC"):
        support[flag] = hasattr(socket, flag) and works(socket.AF_INET, socket.SOCK_STREAM | getattr(socket, flag))
    return support
