"""Warm the parent before it forks workers, so that each worker does not pay the same start-up again.

A forked worker inherits its parent's memory: modules already imported, regular expressions already
compiled, JSON schemas already built, Jinja templates already compiled (feedback.TEMPLATES), the HTML
of the source notebooks' Markdown and test cells already rendered (feedback.FeedbackExporter's memos),
and bubblewrap's probes. Kernels and judges are new processes: for them course_lib's bytecode is written
once here, where it is missing.
Nothing here starts a kernel, an event loop or a ZeroMQ context (none of which survive a fork), and
nothing here reads a submission: only the trusted source notebooks.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nbformat


def _feedback(sources: list[Path]) -> None:
    """Render each source notebook as generate_feedback renders a submission (less its gradebook step),
    its answers left out: the Markdown and the test cells every submission shares are remembered."""
    from nbgrader.converters import GenerateFeedback

    from .cells import is_graded, is_solution
    from .course import load_config

    converter = GenerateFeedback(config=load_config(Path(tempfile.gettempdir()) / "socket-course-warm"))
    exporter = converter.exporter_class(parent=converter, config=converter.config)  # as converter.start() does
    for pp in converter.preprocessors:
        if getattr(pp, "__name__", str(pp)).rpartition(".")[2] != "GetGrades":  # a class, or its dotted name
            exporter.register_preprocessor(pp)
    for source in sources:
        nb = nbformat.read(str(source), as_version=4)
        for cell in nb.cells:  # what GetGrades writes, so that the template takes the same branches
            if is_graded(cell):
                cell.metadata.nbgrader.update(score=0.0, points=float(cell.metadata.nbgrader.get("points", 0)))
            if is_solution(cell):
                cell.metadata.nbgrader["comment"] = None
                if not is_graded(cell):  # the answers are each learner's own: only what all share is warmed
                    cell.source = ""
        nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}  # as ipykernel reports
        exporter.from_notebook_node(nb, resources={
            "nbgrader": {"score": 0.0, "max_score": 1.0, "late_penalty": 0, "notebook": source.stem,
                         "assignment": source.parent.name, "student": ""},
            "metadata": {"path": str(source.parent)}})


def _compile_course_lib() -> None:
    """Write course_lib's bytecode where it is missing or older than its source.

    Every kernel and every judge imports course_lib; without bytecode each compiles it again, about 0.2 s
    of CPU per process, and nothing writes it for them: a fresh checkout has none, PYTHONDONTWRITEBYTECODE
    keeps imports from writing it, and a sandboxed kernel sees course_lib read-only. An installed copy that
    is not writable was compiled by its installer.
    """
    import compileall

    root = Path(__file__).resolve().parents[1]
    if os.access(root, os.W_OK):
        compileall.compile_dir(str(root), quiet=2, workers=1)


def warm_up(sources: list[Path], feedback: bool) -> None:
    """Do once in the parent what every worker would otherwise do first: best effort, never fatal."""
    try:
        from nbgrader.preprocessors import Execute, SaveAutoGrades  # noqa: F401 - imported to be inherited

        from ..judge import execute  # noqa: F401 - imported to be inherited
        from .integrity import inspect_submission
        from .sandbox import bwrap_path, tmpfs_size_supported

        _compile_course_lib()
        if bwrap_path():
            tmpfs_size_supported()  # a probe of bubblewrap, remembered

        for source in sources:
            nb = nbformat.read(str(source), as_version=4)
            nbformat.validate(nb)
            inspect_submission(nb, nb)
        if feedback:
            _feedback(sources)
    except Exception as exc:  # a slower worker, never a failed run
        if os.environ.get("SOCKET_COURSE_DEBUG"):
            raise
        del exc
