# Mistake: no range check, so an oversized value raises struct.error instead of OverflowError.
def to_wire(value, bits):
    """Return `value` as a `bits`-wide (16 or 32) unsigned field in network byte order."""
    if bits == 16:
        return struct.pack("!H", value)
    if bits == 32:
        return struct.pack("!I", value)
    raise ValueError(f"bits must be 16 or 32, not {bits!r}")
