"""Every name the syllabus lists for a section appears in a code cell of that section's notebook.

The syllabus lives beside the project (../shared/SYLLABUS.md); lines starting with "- `" are checked by
name, as the syllabus says. A section whose notebook has not landed yet is skipped, not failed.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from course_lib.grading.course import assignments

ROOT = Path(__file__).resolve().parents[1]
SYLLABUS = ROOT.parent / "shared" / "SYLLABUS.md"


def syllabus() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    if not SYLLABUS.exists():
        return sections
    for line in SYLLABUS.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^## (\d\d) ", line)
        if m:
            current = m.group(1)
            sections[current] = []
            continue
        m = re.match(r"^- `([^`]+)`", line)
        if m and current:
            sections[current].append(m.group(1))
    return sections


SECTIONS = syllabus()


def code_of(number: str) -> str | None:
    for name, assignment in assignments().items():
        if name.startswith(number + "_"):
            nb = nbformat.read(str(assignment.notebooks[0]), as_version=4)
            return "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return None


@pytest.mark.skipif(not SECTIONS, reason=f"syllabus not found at {SYLLABUS}")
@pytest.mark.parametrize("number", sorted(SECTIONS) or ["none"])
def test_every_syllabus_name_is_used_in_code(number):
    code = code_of(number)
    if code is None:
        pytest.skip(f"section {number} has no notebook yet")
    missing = []
    for name in SECTIONS[number]:
        bare = name.split(".")[-1] if name.startswith("socket.") and name != "socket.socket" else name
        pattern = r"(?<![\w])" + re.escape(name if "." in name else bare) + r"(?![\w])"
        if not re.search(pattern, code):
            missing.append(name)
    assert not missing, f"section {number}: syllabus names not used in any code cell: {missing}"
