"""Warm the parent before it forks workers, so that each worker does not pay the same start-up again.

A forked worker inherits its parent's memory: modules already imported, regular expressions already
compiled, JSON schemas already built, templates already loaded. Measured on the 04 notebook, rendering
feedback in a cold worker took about 1.4 s, in a worker forked from a warmed parent about 0.4 s. Nothing
here starts a kernel, an event loop or a ZeroMQ context (none of which survive a fork), and nothing here
reads a submission: only the trusted source notebooks.
"""
from __future__ import annotations

import os
from pathlib import Path

import nbformat


def _feedback_exporter() -> None:
    """Render a tiny notebook with nbgrader's feedback template, as generate_feedback will."""
    import nbgrader.converters.generate_feedback as gf
    from nbconvert.exporters import HTMLExporter
    from traitlets.config import Config

    base = Path(gf.__file__).resolve().parents[1] / "server_extensions" / "formgrader"
    config = Config()
    config.HTMLExporter.template_name = "feedback"
    config.HTMLExporter.extra_template_basedirs = [str(base / "templates")]
    config.HTMLExporter.extra_template_paths = [str(base / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# warm *up*"),
        nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", text="1\n")]),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    HTMLExporter(config=config).from_notebook_node(
        nb, resources={"nbgrader": {"score": 0, "max_score": 1, "late_penalty": 0}})


def warm_up(sources: list[Path], feedback: bool) -> None:
    """Do once in the parent what every worker would otherwise do first: best effort, never fatal."""
    try:
        from nbgrader.preprocessors import Execute, SaveAutoGrades  # noqa: F401 - imported to be inherited

        from .integrity import inspect_submission

        for source in sources:
            nb = nbformat.read(str(source), as_version=4)
            nbformat.validate(nb)
            inspect_submission(nb, nb)
        if feedback:
            _feedback_exporter()
    except Exception as exc:  # a slower worker, never a failed run
        if os.environ.get("SOCKET_COURSE_DEBUG"):
            raise
        del exc
