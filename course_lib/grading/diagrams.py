"""The notebooks' Mermaid diagrams as static SVG, so that feedback shows them offline and without script.

JupyterLab draws a ```` ```mermaid ```` block itself; nbconvert's HTML (the feedback learners get) would load
mermaid.js from a CDN, so offline it shows the diagram's source as text. Instead, every Mermaid block of the
course is rendered once, at release time, by the Mermaid CLI (npm's @mermaid-js/mermaid-cli driving Debian's
chromium) into ``mermaid/<key>.svg`` beside this file (shipped in the package, keyed by a hash of the
block's source), and :class:`MermaidToSVG`, a feedback preprocessor, replaces each block by that picture:
an ``<img>`` of a data URI, which no browser runs script from. A block with no rendered picture is left as
it is.

Maintainers, after changing a diagram: ``make diagrams`` (or ``python -m course_lib.grading.diagrams
--mmdc PATH``) renders the missing pictures and deletes the unused ones; tests/test_diagrams.py fails while
a block has no picture.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor

CACHE = Path(__file__).parent / "mermaid"
BLOCK = re.compile(r"^(?P<fence>```+|~~~+)[ \t]*mermaid[ \t]*\n(?P<code>.*?)\n(?P=fence)[ \t]*$",
                   re.MULTILINE | re.DOTALL)
#: Labels as SVG text, not HTML in foreignObject: the picture is shown through <img>.
MERMAID_CONFIG = {"htmlLabels": False, "flowchart": {"htmlLabels": False}, "theme": "default"}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def key(code: str) -> str:
    """The picture's name for a block's source (whitespace at the ends does not count)."""
    return hashlib.sha256(code.strip().encode()).hexdigest()[:20]


def blocks(markdown: str) -> list:
    """The Mermaid sources in a Markdown text, in order."""
    return [m["code"] for m in BLOCK.finditer(markdown)]


def picture(code: str) -> Path:
    return CACHE / f"{key(code)}.svg"


def replace(markdown: str) -> str:
    """``markdown`` with each Mermaid block that has a picture replaced by the picture (a data URI)."""
    def swap(m: re.Match) -> str:
        path = picture(m["code"])
        if not path.is_file():
            return m.group(0)
        data = base64.b64encode(path.read_bytes()).decode()
        return f"![diagram](data:image/svg+xml;base64,{data})"
    return BLOCK.sub(swap, markdown)


class MermaidToSVG(NbGraderPreprocessor):
    """Feedback preprocessor: Markdown cells' Mermaid blocks become their pre-rendered SVG pictures."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown" and "mermaid" in cell.source:
            cell.source = replace(cell.source)
        return cell, resources


# -- rendering (maintainers; needs node and chromium) -----------------------------------------------

def course_blocks(source: Path) -> dict:
    """key -> Mermaid source, for every block in every notebook under ``source``."""
    import nbformat

    found = {}
    for path in sorted(Path(source).glob("*/*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                for code in blocks(cell.source):
                    found[key(code)] = code
    return found


def render(code: str, dest: Path, mmdc: str, chromium: str) -> None:
    """Render one block to ``dest`` with the Mermaid CLI."""
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "in.mmd").write_text(code)
        (t / "config.json").write_text(json.dumps(MERMAID_CONFIG))
        (t / "puppeteer.json").write_text(json.dumps({"executablePath": chromium, "args": CHROMIUM_ARGS}))
        subprocess.run([mmdc, "-q", "-p", str(t / "puppeteer.json"), "-c", str(t / "config.json"),
                        "-b", "white", "-i", str(t / "in.mmd"), "-o", str(t / "out.svg")],
                       check=True, timeout=120)
        dest.write_bytes((t / "out.svg").read_bytes())


def main(argv: list | None = None) -> int:
    from .course import notebooks_dir

    parser = argparse.ArgumentParser(description="Render the course's Mermaid diagrams to SVG for feedback.")
    parser.add_argument("--mmdc", default="mmdc", help="the Mermaid CLI (npm @mermaid-js/mermaid-cli)")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the browser it drives")
    args = parser.parse_args(argv)
    wanted = course_blocks(notebooks_dir())
    CACHE.mkdir(exist_ok=True)
    for name, code in wanted.items():
        dest = CACHE / f"{name}.svg"
        if not dest.is_file():
            render(code, dest, args.mmdc, args.chromium)
            print(f"rendered {dest.name}")
    for old in CACHE.glob("*.svg"):
        if old.stem not in wanted:
            old.unlink()
            print(f"removed {old.name} (no longer used)")
    print(f"{len(wanted)} diagram(s) in {CACHE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
