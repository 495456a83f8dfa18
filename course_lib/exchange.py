"""The exchange drawn: a transcript as a sequence diagram, in text and in SVG.

Why this module exists: a list of events ("client sent", "client received",
"client eof") makes the learner rebuild the conversation in their head; a
sequence diagram shows it, with one lane per side, an arrow per send, closes,
resets and timeouts marked, and the step where it went wrong highlighted.
The transcript records the harness's side of each connection (the reference
client, or the reference server); the other end of every arrow is the
learner's code, drawn as its own lane.

:func:`steps` turns a :class:`~course_lib.transcript.Transcript` into steps,
:func:`text` renders them for a terminal or an error message (one line per
step), :func:`svg` as a self-contained SVG (no script, no external font or
file) that JupyterLab, nbconvert's HTML and GitHub all show offline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

from .transcript import Transcript, show

__all__ = ["Step", "lanes", "steps", "svg", "text"]

#: Event kinds that end a step badly; the first one is where it went wrong.
_BAD = ("reset", "timeout", "error")
_CONNECTED = re.compile(r"^connected to ")
_ACCEPTED = re.compile(r"^accepted connection")


@dataclass
class Step:
    """One arrow (``dst`` set) or one mark on a lane (``dst`` None)."""

    src: str
    dst: str | None
    label: str
    kind: str
    bad: bool = False  # where it went wrong: highlighted


def counterpart(side: str) -> str:
    """The learner's end of a connection whose other end is the harness's ``side``."""
    if side.startswith("client"):
        return "server"
    if side in ("server", "peer"):
        return "client"
    return "your code"


def _data(data: bytes, pieces: int, limit: int) -> str:
    label = show(data, limit)
    if pieces > 1:
        label += f" in {pieces} pieces"
    return label


def _short(text: str, limit: int = 72) -> str:
    text = text.strip().strip("()")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def steps(transcript: Transcript, limit: int = 24) -> list:
    """The transcript as steps, the step where it went wrong marked ``bad``.

    That step is the first reset, timeout or error; failing those, the last
    thing the learner's side did (its last send or its close), which is what
    a wrong answer's message is about.
    """
    out = []
    for e in transcript.events:
        cp = counterpart(e.side)
        if e.kind == "sent":
            out.append(Step(e.side, cp, _data(e.data, e.pieces, limit), e.kind))
        elif e.kind == "received":
            out.append(Step(cp, e.side, _data(e.data, e.pieces, limit), e.kind))
        elif e.kind == "eof":
            out.append(Step(cp, e.side, "end of data (closed or shut down)", e.kind))
        elif e.kind == "shutdown":
            out.append(Step(e.side, cp, "shutdown(SHUT_WR): end of data", e.kind))
        elif e.kind == "close":
            out.append(Step(e.side, None, "✕ closed", e.kind))
        elif e.kind == "reset":
            out.append(Step(e.side, None, "⚡ reset " + _short(e.text), e.kind))
        elif e.kind == "timeout":
            out.append(Step(e.side, None, "⏱ " + _short(e.text), e.kind))
        elif e.kind == "error":
            out.append(Step(e.side, None, "✕ " + _short(e.text), e.kind))
        elif _CONNECTED.match(e.text):
            out.append(Step(e.side, cp, "connect", "connect"))
        elif _ACCEPTED.match(e.text):
            out.append(Step(cp, e.side, "connect", "connect"))
        else:
            out.append(Step(e.side, None, _short(e.text), e.kind))
    bad = next((s for s in out if s.kind in _BAD), None)
    if bad is None:
        learner = {counterpart(e.side) for e in transcript.events}
        bad = next((s for s in reversed(out) if s.src in learner and s.dst is not None), None)
    if bad is None and out:
        bad = out[-1]
    if bad is not None:
        bad.bad = True
    return out


def lanes(transcript: Transcript) -> list:
    """Lane names, left to right: clients on the left, servers on the right."""
    sides = list(dict.fromkeys(e.side for e in transcript.events))
    learner = list(dict.fromkeys(counterpart(s) for s in sides))
    ordered = [s for s in sides + learner if s.startswith("client")]
    ordered += [s for s in sides + learner if s not in ordered]
    return list(dict.fromkeys(ordered))


def _window(n: int, keep: int, marked: int | None) -> list:
    """Indices to show of ``n`` steps: the start, the end, and around the marked one."""
    if n <= keep:
        return list(range(n))
    head = keep // 3
    chosen = set(range(head)) | set(range(n - (keep - head), n))
    if marked is not None:
        chosen |= {i for i in (marked - 1, marked, marked + 1) if 0 <= i < n}
    return sorted(chosen)


def _run(a: str, b: str, count: int) -> str:
    """One lane, or the run of lanes a step happened on in a row."""
    return a if count == 1 or a == b else f"{a}{', ' if count == 2 else ' … '}{b}"


def text(transcript: Transcript, max_steps: int = 14, indent: str = "    ") -> str:
    """One line per step, e.g. ``client ──▶ server  b'hello' (5 bytes)``; ``◀ here`` marks the bad step.

    The same mark on several lanes in a row (ten clients closing) is one line; with more than
    ``max_steps`` lines the middle ones are elided, never the marked one.
    """
    all_steps = steps(transcript)
    if not all_steps:
        return indent + "(nothing was sent or received)"
    order = {name: i for i, name in enumerate(lanes(transcript))}
    width = max(len(name) for name in order)
    entries: list = []  # [first step, last step, count]
    for s in all_steps:
        last = entries[-1] if entries else None
        if (last is not None and not s.bad and not last[1].bad and s.kind == last[1].kind
                and s.label == last[1].label and (s.src, s.dst) != (last[1].src, last[1].dst)
                and (s.dst is None or s.src == last[1].src or s.dst == last[1].dst)):
            last[1], last[2] = s, last[2] + 1
        else:
            entries.append([s, s, 1])
    marked = next((i for i, e in enumerate(entries) if e[0].bad), None)
    lines, last_i = [], -1
    for i in _window(len(entries), max_steps, marked):
        if i != last_i + 1:
            lines.append(f"{indent}… {i - last_i - 1} more step(s) …")
        last_i = i
        first, final, count = entries[i]
        if first.dst is None:
            line = f"{_run(first.src, final.src, count):>{width}} {first.label}"
        else:
            forward = order[first.src] < order[first.dst]
            left, right = (first.src, first.dst) if forward else (first.dst, first.src)
            last_left, last_right = (final.src, final.dst) if forward else (final.dst, final.src)
            arrow = "──▶" if forward else "◀──"
            line = (f"{_run(left, last_left, count):>{width}} {arrow} {_run(right, last_right, count):<{width}}  "
                    f"{first.label}")
        lines.append(indent + line + ("   ◀ here" if first.bad else ""))
    if last_i != len(entries) - 1:
        lines.append(f"{indent}… {len(entries) - last_i - 1} more step(s) …")
    return "\n".join(lines)


# -- SVG -------------------------------------------------------------------------

_CHAR = 7.3   # width of one character of 12px monospace, near enough
_ROW = 26
_TOP = 46


def svg(transcript: Transcript, max_steps: int = 40, title: str = "") -> str:
    """A self-contained SVG sequence diagram of the transcript (no script, no external file)."""
    all_steps = steps(transcript)
    names = lanes(transcript) or ["client", "server"]
    marked = next((i for i, s in enumerate(all_steps) if s.bad), None)
    shown = _window(len(all_steps), max_steps, marked)
    widest = max([len(s.label) for s in all_steps] + [len(n) for n in names] + [12])
    # Two or three lanes: room for every label between neighbours; many clients: narrow lanes (a label
    # sits in the middle of its arrow, which spans several lanes).
    gap = min(max(140, widest * _CHAR + 40), 360) if len(names) <= 3 else 110
    x = {name: 80 + i * gap for i, name in enumerate(names)}
    learner = {counterpart(s) for s in dict.fromkeys(e.side for e in transcript.events)}
    gaps = sum(1 for a, b in zip(shown, shown[1:], strict=False) if b != a + 1)
    rows = len(shown) + gaps + (1 if not all_steps else 0)
    width = int(x[names[-1]] + max(160, widest * _CHAR / 2 + 40))
    height = _TOP + 20 + rows * _ROW + 24 + (20 if title else 0)
    top = _TOP + (20 if title else 0)
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" '
            f'font-size="12">'),
           ('<defs><marker id="r" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
            'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#c62828"/></marker>'
            '<marker id="k" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
            'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#37474f"/></marker></defs>'),
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>']
    if title:
        out.append(f'<text x="10" y="18" font-weight="bold" fill="#37474f">{escape(title)}</text>')
    bottom = height - 12
    for name in names:
        caption = name + (" (yours)" if name in learner else "")
        w = len(caption) * _CHAR + 16
        fill = "#e3f2fd" if name in learner else "#f5f5f5"
        out.append(f'<line x1="{x[name]}" y1="{top - 10}" x2="{x[name]}" y2="{bottom}" stroke="#9e9e9e" '
                   f'stroke-dasharray="4 3"/>')
        out.append(f'<rect x="{x[name] - w / 2:.1f}" y="{top - 36}" width="{w:.1f}" height="24" rx="4" '
                   f'fill="{fill}" stroke="#607d8b"/>')
        out.append(f'<text x="{x[name]}" y="{top - 19}" text-anchor="middle" fill="#263238">'
                   f'{escape(caption)}</text>')
    y = top + 14
    if not all_steps:
        out.append(f'<text x="{x[names[0]] + 8}" y="{y}" fill="#616161">(nothing was sent or received)</text>')
    last = -1
    for i in shown:
        if i != last + 1:
            out.append(f'<text x="10" y="{y + 4}" fill="#757575">… {i - last - 1} more step(s) …</text>')
            y += _ROW
        last = i
        s = all_steps[i]
        colour = "#c62828" if s.bad else "#37474f"
        if s.bad:
            out.append(f'<rect x="4" y="{y - 17}" width="{width - 8}" height="{_ROW - 2}" fill="#ffebee" '
                       f'stroke="#ef9a9a" rx="3"/>')
        label = escape(s.label)
        if s.dst is None:
            out.append(f'<circle cx="{x[s.src]}" cy="{y}" r="4" fill="{colour}"/>')
            out.append(f'<text x="{x[s.src] + 10}" y="{y + 4}" fill="{colour}">{label}</text>')
        else:
            x1, x2 = x[s.src], x[s.dst]
            dash = ' stroke-dasharray="6 3"' if s.kind in ("eof", "shutdown", "connect") else ""
            marker = "r" if s.bad else "k"
            out.append(f'<line x1="{x1}" y1="{y + 2}" x2="{x2}" y2="{y + 2}" stroke="{colour}" '
                       f'stroke-width="1.5"{dash} marker-end="url(#{marker})"/>')
            out.append(f'<text x="{(x1 + x2) / 2:.1f}" y="{y - 3}" text-anchor="middle" '
                       f'fill="{colour}">{label}</text>')
        if s.bad:
            out.append(f'<text x="{width - 10}" y="{y + 4}" text-anchor="end" fill="#c62828" '
                       f'font-weight="bold">here</text>')
        y += _ROW
    if all_steps and last != len(all_steps) - 1:
        out.append(f'<text x="10" y="{y + 4}" fill="#757575">… {len(all_steps) - last - 1} more step(s) …</text>')
    out.append("</svg>")
    return "\n".join(out)
