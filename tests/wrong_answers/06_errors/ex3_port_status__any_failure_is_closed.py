# Mistake: reports every non-zero code as "closed" instead of looking at which error it is.
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
    return "open" if code == 0 else "closed"
