# Mistake: masks out-of-range values (value & 0xFFFF) instead of raising OverflowError, hiding bugs.
def to_wire(value, bits):
    """Return `value` as a `bits`-wide (16 or 32) unsigned field in network byte order."""
    formats = {16: "!H", 32: "!I"}
    if bits not in formats:
        raise ValueError(f"bits must be 16 or 32, not {bits!r}")
    return struct.pack(formats[bits], value & (2 ** bits - 1))
