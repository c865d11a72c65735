"""Run every benchmark in bench/ and print one summary table at the end.

    . .venv/bin/activate && python bench/run_all.py            # about 13 minutes
    python bench/run_all.py --quick                             # about 5 minutes

Each benchmark runs as a child process with a time limit and prints its own tables as it goes;
the summary at the end gives each one's status, duration and headline numbers. A benchmark that is
missing is skipped with a note. Nothing here asserts: read the numbers.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def _http_headline(path: Path) -> str:
    report = json.loads(path.read_text())
    parts = []
    for entry in report["rows"]:
        if entry["connections"] == 16 and not entry["db"].startswith("before-"):
            parts.append(f"{entry['setup']}/{entry['db']}/{entry['endpoint']}@16: {entry['ours_rps']:.0f} req/s "
                         f"= {entry['ratio']:.0%} of bare"
                         + (f", {entry['ours_to_floor']:.0%} of floor" if "ours_to_floor" in entry else "")
                         + f", {entry['ours_errors']} errors")
    for entry in report["paced"]:
        parts.append(f"{entry['setup']}/{entry['db']}/{entry['endpoint']} {entry['mode']}: p99 {entry['ours_p99']:.0f} ms")
    for entry in report["uniqueness"]:
        parts.append(f"{entry['server']}: {entry['sent']} schedules, {entry['errors']} errors, "
                     f"{entry['duplicates']} duplicate ids")
    return "<br>".join(parts)


def _startup_headline(path: Path) -> str:
    return "<br>".join(f"{name}: {seconds:.2f} s" for name, seconds in json.loads(path.read_text()).items())


def _last_table_line(output: str) -> str:
    """Return the last row of the benchmark's last table, else its last line of output."""
    rows = [line for line in output.splitlines() if line.startswith("|") and "---" not in line]
    lines = [line for line in output.splitlines() if line.strip()]
    return rows[-1] if rows else (lines[-1] if lines else "(no output)")


def _plan(quick: bool, workdir: Path) -> list[tuple[str, list[str], float, Callable[[str], str]]]:
    """(name, command, time limit in seconds, headline from its output)."""
    python = sys.executable
    http_json, startup_json = workdir / "http.json", workdir / "startup.json"
    plan: list[tuple[str, list[str], float, Callable[[str], str]]] = [
        ("bench_parser.py", [python, str(BENCH / "bench_parser.py"), "--repeat", "1" if quick else "3"], 120,
         _last_table_line),
        ("bench_startup.py", [python, str(BENCH / "bench_startup.py"), "--runs", "3" if quick else "5",
                              "--json", str(startup_json)], 240, lambda _out: _startup_headline(startup_json)),
        # Four levels, two servers and two databases of webhook cells: waiting out each one's backlog
        # (bench_http's default, 60 s) would not fit the time limit. A short wait lets a backlog run
        # into the next cells; for a webhook figure to compare, run bench_http.py on one database.
        ("bench_http.py", [python, str(BENCH / "bench_http.py"), *(["--quick"] if quick else []),
                           "--drain-seconds", "15", "--json", str(http_json)], 480 if quick else 900,
         lambda _out: _http_headline(http_json)),
    ]
    dispatch = BENCH / "bench_dispatch.py"
    if dispatch.exists():
        # bench_dispatch.py has no quick flag; its defaults (10,000 rows x 3 concurrencies and a
        # 1,000,000-row backlog) take several minutes, so run a small slice of it here.
        arguments = ["--rows", "1000", "--concurrency", "32", "--backlog", "0"] if quick else \
            ["--rows", "3000", "--concurrency", "8", "32", "--backlog", "0"]
        plan.append(("bench_dispatch.py", [python, str(dispatch), *arguments], 240 if quick else 360,
                     _last_table_line))
    # The shared outbound budget drains at 50/s by design: 10,000 rows take 200 s a store, so a slice here.
    budget_arguments = ["--rows", "500", "--stores", "postgresql"] if quick else ["--rows", "3000"]
    plan.append(("bench_budget.py", [python, str(BENCH / "bench_budget.py"), *budget_arguments],
                 120 if quick else 360, _last_table_line))
    # Inbound bursts and sustained inbound load (issue 16), ours beside the floor.
    plan.append(("bench_burst.py", [python, str(BENCH / "bench_burst.py"), *(["--quick"] if quick else [])],
                 300 if quick else 600, _last_table_line))
    return plan


def main() -> int:
    """Run the benchmarks one after another and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs of each benchmark")
    args = parser.parse_args()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"# Benchmarks, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: {cpu}, "
          f"{len([l for l in Path('/proc/cpuinfo').read_text().splitlines() if l.startswith('processor')])} cores, "
          f"Python {platform.python_version()}{' (quick)' if args.quick else ''}", flush=True)
    summary: list[tuple[str, str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-all-") as directory:
        plan = _plan(args.quick, Path(directory))
        if not (BENCH / "bench_dispatch.py").exists():
            summary.append(("bench_dispatch.py", "skipped: not present", 0.0, ""))
        for name, command, limit, headline in plan:
            print(f"\n## {name}: {' '.join(Path(part).name if part.startswith('/') else part for part in command[1:])}",
                  flush=True)
            started = time.monotonic()
            try:
                done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=limit)
                output, status = done.stdout, "ok" if done.returncode == 0 else f"failed ({done.returncode})"
                if done.returncode != 0:
                    output += "\n" + done.stderr[-3000:]
            except subprocess.TimeoutExpired as exc:
                output = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
                status = f"stopped after {limit:.0f} s"
            print(output, flush=True)
            try:
                line = headline(output) if status == "ok" else ""
            except (OSError, ValueError, KeyError):
                line = "(no summary)"
            summary.append((name, status, time.monotonic() - started, line))
    print("\n## Summary\n")
    print("| benchmark | status | seconds | headline |")
    print("|---|---|---:|---|")
    for name, status, seconds, line in summary:
        print(f"| {name} | {status} | {seconds:.0f} | {line.strip('|').replace('|', '/') if line.startswith('|') else line} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
