"""Suite-wide pytest hooks."""
from __future__ import annotations


def pytest_terminal_summary(terminalreporter):
    """Print what tests/test_pythons.py measured (versions run and their times), pass or fail."""
    reports = terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
    lines = [value for report in reports for key, value in getattr(report, "user_properties", ())
             if key == "python_timing"]
    if lines:
        terminalreporter.write_sep("-", "the notebooks under each supported Python")
        for line in lines:
            terminalreporter.write_line(line)
