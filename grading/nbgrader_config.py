"""nbgrader configuration for socket-course.

This folder is a standard nbgrader course root: `cd grading` and use nbgrader's own commands
(`nbgrader generate_assignment 01_creation`, `nbgrader autograde 01_creation`, the formgrader in
JupyterLab). The source notebooks live in ../notebooks. The `socket-course` command loads this same file,
so the command and nbgrader's own tools grade identically.
"""
import os

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "socket-course"
c.CourseDirectory.source_directory = os.path.join("..", "notebooks")
# nbgrader's exchange (release/collect in the formgrader) inside the course root, not /usr/local/share.
c.Exchange.root = os.path.join(c.CourseDirectory.root, "exchange")

# What a learner sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# A graded cell must never wait for long: course_lib's checks have deadlines of a few seconds; this is
# the backstop for code that escapes them.
c.Execute.timeout = 15
c.Execute.interrupt_on_timeout = True
# Parallel kernels pick their ZMQ ports at random and can, rarely, collide at start-up: try once more.
c.Execute.execute_retries = 1
# ipykernel warns on every start that its TCP loopback channel is unencrypted; learners need not see it.
c.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR",
                             # failures shown as learners see them in the lab (course_lib.failures)
                             "--IPKernelApp.extensions=course_lib.failures"]

# Feedback never shows hidden tests' source (stock generate_feedback would), never quotes them from an
# output, keeps no script or event handler from the learner's outputs or Markdown, and cuts floods.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "course_lib.grading.feedback.RedactHiddenTests",
    "course_lib.grading.feedback.ScrubHiddenEcho",
    "course_lib.grading.feedback.CapOutputs",
    # Mermaid as pre-rendered SVG (shows offline, no script): before SanitizeHTML, which would escape the
    # block's arrows and so change the key its picture is found by
    "course_lib.grading.diagrams.MermaidToSVG",
    "nbconvert.preprocessors.sanitize.SanitizeHTML",
    "course_lib.grading.feedback.SvgAsImage",  # pictures shown through <img>, where no script can run
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# nbconvert's HTMLExporter, its templates compiled once per process and the HTML of unchanged Markdown and
# code remembered (the same page; feedback for a class renders the same cells again and again)
c.GenerateFeedback.exporter_class = "course_lib.grading.feedback.FeedbackExporter"
c.SanitizeHTML.enabled = True  # nbconvert's preprocessors are off until enabled
# SVG passes SanitizeHTML untouched only to be shown through <img> by SvgAsImage, right after it
c.SanitizeHTML.safe_output_keys = ["metadata", "text/plain", "text/latex", "application/json", "image/png",
                                   "image/jpeg", "image/svg+xml"]

