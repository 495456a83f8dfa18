# Mistake: packs in the machine's native byte order ("=H") instead of network order ("!H").
def to_wire(value, bits):
    """Return `value` as a `bits`-wide (16 or 32) unsigned field in network byte order."""
    formats = {16: "=H", 32: "=I"}
    if bits not in formats:
        raise ValueError(f"bits must be 16 or 32, not {bits!r}")
    if not 0 <= value < 2 ** bits:
        raise OverflowError(f"{value} does not fit in an unsigned {bits}-bit field")
    return struct.pack(formats[bits], value)
