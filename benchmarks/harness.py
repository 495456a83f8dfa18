"""Median wall time of each course_lib check against a correct learner function.

A plain script (not a timed test): ``.venv/bin/python benchmarks/harness.py [runs]``.
Why: a notebook runs a dozen checks per section; each small-message check
should cost well under 20 ms so that a whole notebook's tests finish in
seconds.  Figures are for the visible subset (edge_cases=False) and the
full run with edge cases (1 MiB payloads, dribbles, timeouts).

The correct answers are the notebooks' reference solutions, loaded by the
tests' catalogue (tests/answers.py), each check called as its notebook calls it.
"""

import os
import socket
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

import answers as A  # noqa: E402  (the catalogue of answers)

from course_lib import checks  # noqa: E402


def make_dualstack_server():
    """check_dualstack_server has no exercise (so no reference cell): its correct answer."""
    return socket.create_server(("", 0), family=socket.AF_INET6, dualstack_ipv6=True)


def cases():
    """(name, function of edge_cases) for every check a notebook calls, and the two that none calls alone."""
    found = []
    for section in A.assignments():
        for call in A.check_calls(section):
            check, answer = getattr(checks, call.check), A.reference(section, call.grade_id)
            found.append((call.check, lambda edge, check=check, answer=answer, call=call:
                          check(answer, *call.args, edge_cases=edge, **dict(call.kwargs))))
    send_msg, recv_msg = A.reference("04_client", "ex5_send_msg"), A.reference("04_client", "ex6_recv_msg")
    found.append(("check_framing", lambda edge: checks.check_framing(send_msg, recv_msg, edge_cases=edge)))
    found.append(("check_dualstack_server",
                  lambda edge: checks.check_dualstack_server(make_dualstack_server)))
    return found


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
    for name, run in cases():
        basic = median_ms(lambda run=run: run(False), runs)
        full = median_ms(lambda run=run: run(True), runs)
        print(f"{name:32} {basic:9.1f} {full:16.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
