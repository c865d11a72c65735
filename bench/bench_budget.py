"""Outbound budget benchmark: one account's rate shared by every worker of every instance.

    . .venv/bin/activate && python bench/bench_budget.py                 # 10,000 rows, PostgreSQL then Redis: ~8 min
    python bench/bench_budget.py --rows 1000 --stores postgresql         # a quick look, ~30 s
    python bench/bench_budget.py --compare-root /path/to/older/checkout  # the same run on an older tree too

Two instances (gunicorn, ``gunicorn.conf.py``, 2 workers each: four dispatchers) share one PostgreSQL
database and send to one fake Telnyx (tests/fake_telnyx.py, in a process of its own, answering after
50 ms) with ``OUTBOUND_RATE_PER_SECOND=50``. 10,000 reminders come due at the same second. The fake
stamps each message as it arrives; the benchmark reports the most that arrived in any one-second window
(sliding, not aligned to whole seconds) and the drain rate (messages / (last arrival - first)) against
the budget. Issue 16's targets: no window over 55, drain at least 90% of 50/s. ``--stores`` picks where
the budget lives: the database (``postgresql``; ``sqlite`` puts everything on one SQLite file) or Redis
(127.0.0.1:6379, ``BENCH_REDIS_URL`` to change). Needs PostgreSQL on 127.0.0.1:5432 (user postgres;
``BENCH_POSTGRES_URL`` to change). Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_dispatch import (LATENCY, count_sent, database, dump_fake, insert_due, machine,  # noqa: E402
                            print_table, start_fake)

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
API_KEY = "KEY_BENCH_BUDGET"
DEADLINE = 900.0  # seconds; no scenario may run longer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_instance(root: Path, url: str, fake_url: str, workers: int, rate: float, processes: int,
                   redis_url: str | None, log_path: Path) -> tuple[subprocess.Popen, int]:
    """Start one gunicorn instance of the tree at ``root``; return it and its port."""
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    environment.update({
        "DATABASE_URL": url, "TELNYX_API_KEY": API_KEY, "TELNYX_PHONE_NUMBER": "+13125550100",
        "TELNYX_BASE_URL": fake_url, "OUTBOUND_RATE_PER_SECOND": f"{rate:g}",
        "OUTBOUND_BUDGET_PROCESSES": str(processes), "WEB_CONCURRENCY": str(workers),
        "DISPATCH_INTERVAL_SECONDS": "1", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(root),
    })
    if redis_url:
        environment["REDIS_URL"] = redis_url
    with log_path.open("a") as log:
        process = subprocess.Popen([GUNICORN, "app:create_app()", "-c", str(root / "gunicorn.conf.py"),
                                    "--bind", f"127.0.0.1:{port}"], cwd=root, env=environment,
                                   stdout=log, stderr=subprocess.STDOUT)
    return process, port


def wait_ready(port: int, process: subprocess.Popen, deadline_seconds: float = 90.0) -> None:
    """Wait until /readyz says the transport is ready, several times in a row (so for every worker)."""
    deadline = time.monotonic() + deadline_seconds
    in_a_row = 0
    while in_a_row < 6:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the instance on port {port} did not come up")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                in_a_row = in_a_row + 1 if json.load(response).get("transport_ready", True) else 0
        except OSError:
            in_a_row = 0
        time.sleep(0.05)


def window_counts(instants: list[float]) -> list[int]:
    """For each instant t, how many instants fall in [t, t + 1 s): every one-second window that starts a send."""
    ordered = sorted(instants)
    counts, last = [], 0
    for first, instant in enumerate(ordered):
        while last < len(ordered) and ordered[last] - instant < 1.0:
            last += 1
        counts.append(last - first)
    return counts


def clear_redis_budget(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter("outbound-budget:*"):
            client.delete(key)
    finally:
        client.close()


def run(label: str, root: Path, store: str, instances: int, workers: int, rows: int, rate: float) -> dict:
    kind = "sqlite" if store == "sqlite" else "postgresql"
    redis_url = REDIS_URL if store == "redis" else None
    if redis_url:
        clear_redis_budget(redis_url)  # the benchmark's account is the same every run
    with database(kind) as url, tempfile.TemporaryDirectory(prefix="bench-budget-") as directory:
        fake, fake_url = start_fake()
        log_path = Path(directory) / "gunicorn.log"
        servers = [start_instance(root, url, fake_url, workers, rate, instances * workers, redis_url, log_path)
                   for _ in range(instances)]
        try:
            for process, port in servers:
                wait_ready(port, process)
            due = datetime.now(timezone.utc) + timedelta(seconds=4)
            insert_due(url, rows, due)
            deadline = time.monotonic() + min(DEADLINE, rows / rate * 2 + 60) if rate else time.monotonic() + DEADLINE
            while count_sent(url) < rows and time.monotonic() < deadline:
                time.sleep(0.5)
            for process, _port in servers:
                process.send_signal(signal.SIGTERM)
            for process, _port in servers:
                process.wait(timeout=60)
            received = dump_fake(fake)
        finally:
            for process, _port in servers:
                if process.poll() is None:
                    process.kill()
            fake.kill()
        errors = [line for line in log_path.read_text().splitlines() if "Traceback" in line or "budget" in line]
    accepted = sorted(r[3] for r in received if r[1] == 200 and not r[2])
    replayed = sum(1 for r in received if r[1] == 200 and r[2])
    drain = (len(accepted) - 1) / (accepted[-1] - accepted[0]) if len(accepted) > 1 else 0.0
    counts = sorted(window_counts(accepted))
    over = sum(1 for count in counts if count > rate * 1.1) if rate else 0
    return {"tree": label, "store": store, "processes": f"{instances} x {workers}", "rows": rows, "sent": len(accepted),
            "replayed": replayed, "max_in_1s": counts[-1] if counts else 0,
            "p99_in_1s": counts[int(0.99 * (len(counts) - 1))] if counts else 0,
            "windows_over_110%": f"{over / len(counts):.2%}" if counts else "-", "budget": rate,
            "drain_per_s": drain, "of_budget": f"{drain / rate:.1%}" if rate else "-",
            "first_s": accepted[0] - due.timestamp() if accepted else -1.0,
            "last_s": accepted[-1] - due.timestamp() if accepted else -1.0, "log_lines": len(errors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50.0, help="OUTBOUND_RATE_PER_SECOND")
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--stores", nargs="*", default=["postgresql", "redis"], choices=["postgresql", "redis", "sqlite"])
    parser.add_argument("--compare-root", type=Path, help="also run a tree from before (same settings), first")
    args = parser.parse_args()

    print(f"Machine: {machine()}\n", flush=True)
    print(f"{args.rows:,} reminders due at once; {args.instances} gunicorn instances x {args.workers} workers; "
          f"OUTBOUND_RATE_PER_SECOND={args.rate:g}; fake Telnyx latency {LATENCY * 1000:.0f} ms. max_in_1s / "
          f"p99_in_1s: arrivals at the fake in the one-second windows that start at each arrival, the most and "
          f"the 99th percentile; windows_over_110%: the share of those windows above the budget + 10%; "
          f"drain: messages / (last - first arrival); "
          f"first_s/last_s: seconds after the due second; log_lines: tracebacks and budget warnings\n", flush=True)
    columns = ["tree", "store", "processes", "rows", "sent", "replayed", "max_in_1s", "p99_in_1s", "windows_over_110%",
               "budget", "drain_per_s",
               "of_budget", "first_s", "last_s", "log_lines"]
    trees = ([("before", args.compare_root.resolve())] if args.compare_root else []) + [("this", ROOT)]
    results = []
    for label, root in trees:
        for store in args.stores:
            results.append(run(label, root, store, args.instances, args.workers, args.rows, args.rate))
            print_table(results[-1:], columns)
    print()
    print_table(results, columns)


if __name__ == "__main__":
    main()
