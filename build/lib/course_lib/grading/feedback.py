"""Feedback that shows learners their results without giving away hidden tests.

Stock `nbgrader generate_feedback` renders the autograded notebook, hidden tests included. This
preprocessor replaces each hidden-test region with a one-line note and reduces a hidden cell's traceback
(which would quote the hidden assertion's source line) to the exception and its message, which is where
course_lib's checks put what was expected, what happened, and the bytes on the wire.
"""
from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor

BEGIN = "### BEGIN HIDDEN TESTS"
END = "### END HIDDEN TESTS"
NOTE = "# (hidden tests ran here; their source is not shown)"


def redact_source(source: str) -> tuple[str, bool]:
    """The source with every hidden region replaced by NOTE, and whether anything was hidden."""
    out, inside, hidden = [], False, False
    for line in source.split("\n"):
        if BEGIN in line:
            inside = hidden = True
            out.append(line[: len(line) - len(line.lstrip())] + NOTE)
        elif END in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out), hidden


class RedactHiddenTests(NbGraderPreprocessor):
    """Remove hidden tests' source, and traceback lines that quote it, from feedback."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        cell.source, hidden = redact_source(cell.source)
        if hidden:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    out["traceback"] = [f"{out.get('ename')}: {out.get('evalue')}"]
        return cell, resources
