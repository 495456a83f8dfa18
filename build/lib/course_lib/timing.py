"""Deadlines for everything that waits.

Why this module exists: a notebook test cell that waits on a learner's socket
code must never hang the kernel, and a whole notebook's tests must finish in
seconds on a laptop yet still pass on a loaded 2-core CI machine.  Every wait
in course_lib therefore goes through a :class:`Deadline`, and every default
duration goes through :func:`scaled`, so a slow machine can stretch all of
them at once with one environment variable instead of editing constants.
"""

from __future__ import annotations

import math
import os
import time
import warnings

__all__ = ["TIME_SCALE", "scaled", "DEFAULT_DEADLINE", "Deadline", "read_time_scale"]

_ENV_VAR = "SOCKET_COURSE_TIME_SCALE"


def read_time_scale(raw: str | None) -> float:
    """Parse a time-scale setting, falling back to 1.0 with a warning.

    Why: a typo in ``SOCKET_COURSE_TIME_SCALE`` on a CI machine must not break
    every test cell (or make every deadline zero or infinite); it should be
    ignored loudly.  Only finite, strictly positive numbers are accepted.
    """
    if raw is None or raw.strip() == "":
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        warnings.warn(
            f"{_ENV_VAR}={raw!r} is not a positive number; using 1.0",
            RuntimeWarning,
            stacklevel=2,
        )
        return 1.0
    return value


#: Multiplier applied to every default duration (env ``SOCKET_COURSE_TIME_SCALE``).
#: Set it above 1 on slow or heavily loaded machines.
TIME_SCALE: float = read_time_scale(os.environ.get(_ENV_VAR))


def scaled(seconds: float) -> float:
    """Return ``seconds`` multiplied by :data:`TIME_SCALE`.

    Why: hard-coded timeouts are either too short for a loaded CI runner or
    too long for a learner waiting on a failing cell; scaling them all from
    one knob keeps them consistent.
    """
    return float(seconds) * TIME_SCALE


#: Default deadline for one learner call or one peer interaction.  Long enough
#: for a 1 MiB exchange on a busy 2-core machine, short enough that a hanging
#: answer fails a cell in a couple of seconds.
DEFAULT_DEADLINE: float = scaled(2.0)


class Deadline:
    """A point in time by which a wait must end.

    Why: passing "remaining time" down through several waits (connect, then
    send, then recv, then join) keeps the *total* bounded, where giving each
    wait its own full timeout would multiply the worst case.  Uses the
    monotonic clock so wall-clock jumps cannot extend or cut a wait.
    """

    __slots__ = ("seconds", "_end")

    def __init__(self, seconds: float | None = None) -> None:
        self.seconds = DEFAULT_DEADLINE if seconds is None else float(seconds)
        self._end = time.monotonic() + self.seconds

    def remaining(self) -> float:
        """Seconds left, never negative (safe to pass to settimeout/join/wait)."""
        return max(0.0, self._end - time.monotonic())

    def expired(self) -> bool:
        """True once the deadline has passed."""
        return time.monotonic() >= self._end

    def __repr__(self) -> str:
        return f"Deadline({self.seconds:g}s, remaining={self.remaining():.3f}s)"
