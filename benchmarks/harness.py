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

CASES = [
    (checks.check_start_server, (A.start_server,)),
    (checks.check_echo_server, (A.serve_once,)),
    (checks.check_timestamp_server, (A.serve_timestamp,)),
    (checks.check_sequential_server, (A.serve_clients,)),
    (checks.check_concurrent_server, (A.serve_concurrently,)),
    (checks.check_udp_echo_server, (A.serve_udp,)),
    (checks.check_reuseaddr_listener, (A.make_listener,)),
    (checks.check_dualstack_server, (A.make_dualstack_server,)),
    (checks.check_fetch_all, (A.fetch_all,)),
    (checks.check_request, (A.request,)),
    (checks.check_probe, (A.probe,)),
    (checks.check_fetch_with_timeout, (A.fetch_with_timeout,)),
    (checks.check_framing, (A.send_msg, A.recv_msg)),
    (checks.check_line_client, (A.exchange_lines,)),
    (checks.check_recv_exactly, (A.recv_exactly_into,)),
    (checks.check_udp_client, (A.udp_request,)),
    (checks.check_sendfile, (A.send_file,)),
]


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
        basic = median_ms(lambda: check(*answer, edge_cases=False), runs)
        full = median_ms(lambda: check(*answer, edge_cases=True), runs)
        print(f"{check.__name__:32} {basic:9.1f} {full:16.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
