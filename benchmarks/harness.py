"""Median wall time of each course_lib check against a correct learner function.

A plain script (not a timed test): ``.venv/bin/python benchmarks/harness.py [runs]``.
Why: a notebook runs a dozen checks per section; each small-message check
should cost well under 20 ms so that a whole notebook's tests finish in
seconds.  Figures are for the visible subset (edge_cases=False) and the
full run with edge cases (1 MiB payloads, dribbles, timeouts).
"""

import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "course_lib"))

import harness_answers as A  # noqa: E402  (correct reference answers)

from course_lib import checks  # noqa: E402

# the correct answers the tests use; dual-stack is timed apart (it has no edge cases, and may be skipped)
CASES = A.CORRECT


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(runs: int = 7) -> None:
    print(f"median of {runs} runs, milliseconds")
    print(f"{'check':32} {'visible':>9} {'with edge cases':>16}")
    for check, answer in CASES:
        basic = median_ms(lambda check=check, answer=answer: check(*answer, edge_cases=False), runs)
        full = median_ms(lambda check=check, answer=answer: check(*answer, edge_cases=True), runs)
        print(f"{check.__name__:32} {basic:9.1f} {full:16.1f}")
    dualstack = median_ms(lambda: checks.check_dualstack_server(A.make_dualstack_server), runs)
    print(f"{'check_dualstack_server':32} {dualstack:9.1f} {dualstack:16.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
