# style: contextlib.closing, the family from the ipaddress module, errno.errorcode-free comparison
def port_status(address):
    """Return "open", "closed" (refused) or os.strerror(code) for a connection attempt to address."""
    import contextlib
    import ipaddress
    if isinstance(address, str):
        family = socket.AF_UNIX
    elif ipaddress.ip_address(address[0]).version == 6:
        family = socket.AF_INET6
    else:
        family = socket.AF_INET
    with contextlib.closing(socket.socket(family, socket.SOCK_STREAM)) as s:
        s.settimeout(1)
        result = s.connect_ex(address)
    if result == 0:
        return "open"
    return "closed" if result == errno.ECONNREFUSED else os.strerror(result)
