# Mistake: one try block for both lookups, so an unknown family also leaves a known type unconverted.
def to_enums(family, kind):
    """Return (AddressFamily member or int, SocketKind member or int) for two numbers."""
    try:
        return socket.AddressFamily(family), socket.SocketKind(kind)
    except ValueError:
        return family, kind
