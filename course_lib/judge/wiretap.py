"""The kernel's loopback, tapped from outside: when each TCP connection attempt left (its SYN).

The judge shares the kernel's network namespace (run.join_namespaces) and holds there the rights of the
user namespace that owns it, so it may open a packet socket on that namespace's `lo`. Each packet is
stamped by the operating system as it passes, so the times are those of the wire, not of the judge's
reading them: a judge that is slow to drain the tap reads the same times. A backoff check compares the
gaps between a client's attempts with the sleeps the kernel reports (checks/errors.py).

Only the headers are read (at most 128 bytes of each packet), the queue is bounded (1 MiB), and a tap
that cannot be opened (no packet sockets, no rights) is simply absent: the check then has the kernel's
report alone, as before.
"""
from __future__ import annotations

import contextlib
import socket
import struct

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = 35  # Linux (asm-generic): not exported by Python's socket module
_MOST = 4096  # packets read after a call, at most


class SynTap:
    """`with SynTap() as tap:` ... `tap.times()`: the moments (seconds, the system's real-time clock)
    at which TCP SYNs without ACK (connection attempts) left on `lo` since the tap opened; None if no
    tap could be opened here."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None

    def __enter__(self) -> SynTap:
        if not hasattr(socket, "AF_PACKET"):
            return self
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
        except OSError:
            return self
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.bind(("lo", ETH_P_ALL))
            sock.setblocking(False)
        except OSError:
            sock.close()
            return self
        self.sock = sock
        return self

    def times(self, port: int | None = None) -> list[float] | None:
        """The attempts' departure times so far, oldest first (None: no tap); with `port`, only those to
        that port (a namespace shared with other programs: the judge's own has only the kernel's)."""
        if self.sock is None:
            return None
        found = []
        for _ in range(_MOST):
            try:
                data, ancillary, _flags, address = self.sock.recvmsg(128, socket.CMSG_SPACE(16))
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                return None
            if len(address) < 3 or address[2] != PACKET_OUTGOING:
                continue  # (each loopback packet is seen twice: leaving, and arriving)
            to = _syn_port(data)
            if to is None or (port is not None and to != port):
                continue
            for level, kind, raw in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(raw) >= 16:
                    seconds, nanos = struct.unpack("qq", raw[:16])
                    found.append(seconds + nanos / 1e9)
        else:
            return None  # more traffic than a backoff makes: not a clean measurement
        return sorted(found)

    def __exit__(self, *exc) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None


def _syn_port(packet: bytes) -> int | None:
    """The destination port of a connection attempt (an IPv4 or IPv6 TCP segment with SYN set and ACK
    clear), or None for any other packet."""
    if not packet:
        return None
    version = packet[0] >> 4
    if version == 4 and len(packet) >= 20:
        if packet[9] != socket.IPPROTO_TCP or struct.unpack("!H", packet[6:8])[0] & 0x1FFF:
            return None
        tcp = (packet[0] & 0x0F) * 4
    elif version == 6 and len(packet) >= 40:
        if packet[6] != socket.IPPROTO_TCP:
            return None  # (extension headers: none on loopback's own SYNs)
        tcp = 40
    else:
        return None
    if len(packet) < tcp + 14:
        return None
    flags = packet[tcp + 13]
    if not flags & 0x02 or flags & 0x10:
        return None
    return int(struct.unpack("!H", packet[tcp + 2:tcp + 4])[0])
