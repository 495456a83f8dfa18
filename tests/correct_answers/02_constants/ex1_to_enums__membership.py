# style: look the value up in the enum's values instead of catching ValueError
def to_enums(family, kind):
    """Return (AddressFamily member or int, SocketKind member or int) for two numbers."""
    families = {int(m): m for m in socket.AddressFamily}
    kinds = {int(m): m for m in socket.SocketKind}
    return families.get(family, family), kinds.get(kind, kind)
