# style: int.to_bytes (which raises OverflowError itself for values that do not fit)
def to_wire(value, bits):
    """Return `value` as a `bits`-wide (16 or 32) unsigned field in network byte order."""
    if bits not in (16, 32):
        raise ValueError("bits must be 16 or 32")
    return value.to_bytes(bits // 8, "big", signed=False)
