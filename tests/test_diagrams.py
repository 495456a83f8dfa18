"""Feedback shows the notebooks' Mermaid diagrams offline: every block has a pre-rendered, script-free SVG."""
from __future__ import annotations

import re

import nbformat

from course_lib.grading import diagrams
from course_lib.grading.course import notebooks_dir


def test_every_mermaid_block_has_its_picture():
    wanted = diagrams.course_blocks(notebooks_dir())
    assert wanted, "the notebooks have Mermaid diagrams (CONTRIBUTING.md asks for one per section)"
    missing = [code.splitlines()[0] for name, code in wanted.items() if not (diagrams.CACHE / f"{name}.svg").is_file()]
    assert not missing, (f"Mermaid blocks without a pre-rendered SVG (run `make diagrams`): {missing}")


def test_pictures_are_static_svg():
    for path in diagrams.CACHE.glob("*.svg"):
        text = path.read_text()
        assert text.lstrip().startswith("<svg"), path.name
        assert not re.search(r"<script|<foreignObject|\son[a-z]+\s*=|javascript:|https?://(?!www\.w3\.org)",
                             text, re.IGNORECASE), f"{path.name} is not a static picture"


def test_feedback_preprocessor_swaps_blocks_for_pictures():
    code = next(iter(diagrams.course_blocks(notebooks_dir()).values()))
    cell = nbformat.v4.new_markdown_cell(f"Before.\n\n```mermaid\n{code}\n```\n\nAfter.")
    unknown = nbformat.v4.new_markdown_cell("```mermaid\nsequenceDiagram\n  A->>B: not rendered\n```")
    nb = nbformat.v4.new_notebook(cells=[cell, unknown])
    diagrams.MermaidToSVG().preprocess(nb, {})
    assert "```mermaid" not in cell.source and "![diagram](data:image/svg+xml;base64," in cell.source
    assert cell.source.startswith("Before.") and cell.source.endswith("After.")
    assert "```mermaid" in unknown.source  # no picture: left for JupyterLab to draw
