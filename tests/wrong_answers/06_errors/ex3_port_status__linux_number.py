# mistake: compares the code with 111, Linux's ECONNREFUSED (61 on macOS, 10061 on Windows)
def port_status(address):
    """Return "open", "closed" (refused) or os.strerror(code) for a connection attempt to address."""
    if isinstance(address, str):
        family = socket.AF_UNIX
    elif ":" in address[0]:
        family = socket.AF_INET6
    else:
        family = socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        code = s.connect_ex(address)
    if code == 0:
        return "open"
    if code == 111:
        return "closed"
    return os.strerror(code)
