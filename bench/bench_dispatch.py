"""Dispatch benchmark: how fast a burst of due reminders goes out, and what a large backlog costs at start-up.

    . .venv/bin/activate && python bench/bench_dispatch.py            # everything, a few minutes
    python bench/bench_dispatch.py --rows 2000 --concurrency 32       # a quicker look

Throughput: 10,000 reminders due at the same second, a fake Telnyx (tests/fake_telnyx.py, in a process of
its own so its GIL does not slow ours) answering after 50 ms, the outbound rate limit lifted. Reports the
time from the due second until the last message reached the fake, and the lateness (arrival at the fake
minus due time) p50/p99, for 1 and 4 instances on PostgreSQL and 1 on SQLite.
Backlog: 1,000,000 reminders due in a month; start-up time (process start to the first finished tick) and
resident memory of one instance, against an empty database. Needs PostgreSQL on 127.0.0.1:5432 (user
postgres; BENCH_POSTGRES_URL to change). Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
LATENCY = 0.05
DEADLINE = 600.0  # seconds; no scenario may run longer


# --- child processes ----------------------------------------------------------------------------

def serve_fake(latency: float) -> None:
    """Run the fake Telnyx; print its URL; on a line "PATH" on stdin write what it received to PATH."""
    from tests.fake_telnyx import FakeTelnyx

    fake = FakeTelnyx(latency=latency)
    fake.start()
    print(fake.url, flush=True)
    for line in sys.stdin:
        offset = time.time() - time.monotonic()  # CLOCK_MONOTONIC -> wall clock, in this process
        with fake._lock:
            rows = [(m.text, m.status, m.replayed, m.received_at + offset) for m in fake.messages]
        Path(line.strip()).write_text(json.dumps(rows))
        print("dumped", flush=True)
    fake.stop()


def run_instance() -> None:
    """Run one bot instance (settings from the environment) until SIGTERM; report start-up on stdout."""
    started = time.monotonic()
    from bot.storage.db import make_engine
    from bot.delivery.dispatcher import next_due_at
    from bot.logs import configure_logging
    from bot.service import Bot
    from bot.settings import load_settings

    settings = load_settings(os.environ)
    configure_logging(level=settings.log_level)
    # The PostgreSQL server allows 100 connections in all (and is shared): cap each instance's pool.
    pool = int(os.environ.get("BENCH_POOL_SIZE", "10"))
    bot = Bot(settings, engine=make_engine(settings.database_url, pool_size=pool, max_overflow=pool // 2))
    bot.start()
    for _ in range(6000):  # up to 60 s
        if bot.dispatcher.last_tick_at is not None:
            break
        time.sleep(0.01)
    ready = time.monotonic() - started
    rss_ready = rss_kb()
    tick_started = time.perf_counter()
    next_due_at(bot.session_factory)
    next_due_ms = (time.perf_counter() - tick_started) * 1000
    stopped = []
    signal.signal(signal.SIGTERM, lambda *_: stopped.append(True))
    print(json.dumps({"ready_seconds": ready, "rss_kb": rss_ready, "next_due_ms": next_due_ms}), flush=True)
    while not stopped and time.monotonic() - started < DEADLINE:
        time.sleep(0.1)
    print(json.dumps({"rss_kb_at_exit": rss_kb(), "sent": bot.dispatcher.sent_count}), flush=True)
    bot.shutdown()
    bot.engine.dispose()


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


# --- databases ----------------------------------------------------------------------------------

@contextmanager
def database(kind: str) -> Iterator[str]:
    """Yield the URL of a fresh, migrated database; drop it afterwards."""
    from bot.storage.db import make_engine, upgrade_database

    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite:///{directory}/bench.db"
            _migrate(url, make_engine, upgrade_database)
            yield url
        return
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    try:
        _migrate(url, make_engine, upgrade_database)
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _migrate(url: str, make_engine: Any, upgrade_database: Any) -> None:
    engine = make_engine(url)
    upgrade_database(engine)
    engine.dispose()


_COLUMNS = ("id", "kind", "source", "owner", "recipient", "text", "zone", "send_at", "due_at", "status",
            "occurrence", "attempts", "created_at", "owner_notified")


def _row(n: int, due: datetime, now: datetime) -> tuple:
    return (f"b{n:07d}", "reminder", "api", None, f"+1212{n % 10_000_000:07d}", f"bench m-{n}", "UTC",
            due, due, "scheduled", 0, 0, now, False)


def insert_due(url: str, count: int, due: datetime, spread: timedelta = timedelta(0)) -> float:
    """Insert ``count`` scheduled reminders due at ``due`` (+ up to ``spread``); return the seconds it took."""
    started = time.perf_counter()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    naive_due = due.astimezone(timezone.utc).replace(tzinfo=None)
    step = spread / max(count, 1)
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            connection.executemany(
                f"INSERT INTO reminders ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                [_row(n, naive_due + n * step, now) for n in range(count)])
        return time.perf_counter() - started
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        with connection.cursor().copy(f"COPY reminders ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for n in range(count):
                copy.write_row(_row(n, naive_due + n * step, now))
        connection.execute("ANALYZE reminders")
    return time.perf_counter() - started


def count_sent(url: str) -> int:
    from sqlalchemy import func, select

    from bot.storage.db import make_engine
    from bot.storage.models import Reminder, Status

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).where(Reminder.status == Status.SENT)) or 0
    finally:
        engine.dispose()


# --- scenarios ----------------------------------------------------------------------------------

def start_fake() -> tuple[subprocess.Popen, str]:
    fake = subprocess.Popen([sys.executable, __file__, "--serve-fake", str(LATENCY)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert fake.stdout is not None
    return fake, fake.stdout.readline().strip()


def dump_fake(fake: subprocess.Popen) -> list:
    assert fake.stdin is not None and fake.stdout is not None
    with tempfile.NamedTemporaryFile(suffix=".json") as target:
        fake.stdin.write(target.name + "\n")
        fake.stdin.flush()
        fake.stdout.readline()
        return json.loads(Path(target.name).read_text())


def start_instance(url: str, fake_url: str, concurrency: int, pool: int = 10) -> subprocess.Popen:
    environment = {**os.environ, "BENCH_POOL_SIZE": str(pool), "DATABASE_URL": url, "TELNYX_API_KEY": "KEY_BENCH",
                   "TELNYX_PHONE_NUMBER": "+13125550100", "TELNYX_BASE_URL": fake_url,
                   "DISPATCH_CONCURRENCY": str(concurrency), "OUTBOUND_RATE_PER_SECOND": "0",
                   "DISPATCH_INTERVAL_SECONDS": "1", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, __file__, "--instance"], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env=environment)


def stop_instances(instances: list[subprocess.Popen]) -> list[dict]:
    reports = []
    for instance in instances:
        instance.send_signal(signal.SIGTERM)
    for instance in instances:
        assert instance.stdout is not None
        line = instance.stdout.readline()
        reports.append(json.loads(line) if line else {})
        instance.wait(timeout=60)
    return reports


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def throughput(kind: str, instances: int, concurrency: int, rows: int) -> dict:
    with database(kind) as url:
        fake, fake_url = start_fake()
        pool = 10 if instances == 1 else 6  # at most 15 and 9 connections per instance
        processes = [start_instance(url, fake_url, concurrency, pool) for _ in range(instances)]
        try:
            for process in processes:
                assert process.stdout is not None
                json.loads(process.stdout.readline())  # ready
            due = datetime.now(timezone.utc) + timedelta(seconds=4)  # after at least one poll sees them
            insert_seconds = insert_due(url, rows, due)
            assert datetime.now(timezone.utc) < due - timedelta(seconds=1.2), "insert too slow for the lead"
            deadline = time.monotonic() + DEADLINE
            while count_sent(url) < rows and time.monotonic() < deadline:
                time.sleep(0.25)
            reports = stop_instances(processes)
            received = dump_fake(fake)
            if os.environ.get("BENCH_DUMP"):  # every request the fake saw, to look into a replay
                Path(os.environ["BENCH_DUMP"]).write_text(json.dumps(received))
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
            fake.kill()
    accepted = [r for r in received if r[1] == 200 and not r[2]]
    replayed = [r for r in received if r[1] == 200 and r[2]]
    lateness = [r[3] - due.timestamp() for r in accepted]
    return {"database": "PostgreSQL" if kind == "postgresql" else "SQLite", "instances": instances,
            "concurrency": concurrency, "rows": rows, "sent": len(accepted),
            "replayed": len(replayed), "refused": len(received) - len(accepted) - len(replayed),
            "first_sent_s": min(lateness), "last_sent_s": max(lateness),
            "p50_s": percentile(lateness, 0.5), "p99_s": percentile(lateness, 0.99),
            "per_second": len(accepted) / max(max(lateness), 1e-9), "insert_s": insert_seconds,
            "per_instance": [r.get("sent") for r in reports]}


def backlog(rows: int) -> list[dict]:
    results = []
    for label, count in (("empty", 0), (f"{rows:,} pending", rows)):
        with database("postgresql") as url:
            insert_seconds = insert_due(url, count, datetime.now(timezone.utc) + timedelta(days=30),
                                        spread=timedelta(days=30)) if count else 0.0
            fake, fake_url = start_fake()
            try:
                started = time.monotonic()
                instance = start_instance(url, fake_url, 8)
                assert instance.stdout is not None
                report = json.loads(instance.stdout.readline())
                to_ready = time.monotonic() - started
                time.sleep(3)  # a few more ticks
                [at_exit] = stop_instances([instance])
            finally:
                fake.kill()
            results.append({"database": label, "insert_s": insert_seconds, "process_to_first_tick_s": to_ready,
                            "in_process_ready_s": report["ready_seconds"], "rss_mb": report["rss_kb"] / 1024,
                            "rss_mb_after_3s": at_exit.get("rss_kb_at_exit", -1) / 1024,
                            "next_due_ms": report["next_due_ms"]})
    return results


# --- report ---------------------------------------------------------------------------------------

def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    memory = next((line.split(":", 1)[1].strip() for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), "?")
    import psycopg

    with psycopg.connect(ADMIN_URL) as admin:
        server = admin.execute("SHOW server_version").fetchone()[0]
    return (f"nproc {os.cpu_count()}, {model}, RAM {memory}, Python {platform.python_version()}, "
            f"PostgreSQL {server}, SQLite {__import__('sqlite3').sqlite_version}, {platform.platform()}")


def print_table(rows: list[dict], columns: list[str]) -> None:
    def cell(value: Any) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        print("| " + " | ".join(cell(row[c]) for c in columns) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[8, 32, 64])
    parser.add_argument("--backlog", type=int, default=1_000_000, help="0 skips the start-up benchmark")
    parser.add_argument("--setups", nargs="*", default=["postgresql:1", "postgresql:4", "sqlite:1"],
                        help="DATABASE:INSTANCES pairs for the throughput runs (none skips them)")
    parser.add_argument("--serve-fake", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--instance", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake is not None:
        return serve_fake(args.serve_fake)
    if args.instance:
        return run_instance()

    print(f"Machine: {machine()}\n", flush=True)
    if args.setups:
        results = []
        print(f"Throughput: {args.rows:,} reminders due at once, fake Telnyx latency {LATENCY * 1000:.0f} ms, "
              f"OUTBOUND_RATE_PER_SECOND=0 (times in seconds after the due second)\n", flush=True)
        columns = ["database", "instances", "concurrency", "sent", "replayed", "first_sent_s", "last_sent_s",
                   "p50_s", "p99_s", "per_second", "per_instance"]
        for kind, instances in (setup.split(":") for setup in args.setups):
            for concurrency in args.concurrency:
                results.append(throughput(kind, int(instances), concurrency, args.rows))
                print_table(results[-1:], columns)
        print()
        print_table(results, columns)
    if args.backlog:
        print("\nStart-up with a backlog (one instance, PostgreSQL)\n", flush=True)
        print_table(backlog(args.backlog), ["database", "insert_s", "process_to_first_tick_s",
                                            "in_process_ready_s", "rss_mb", "rss_mb_after_3s", "next_due_ms"])


if __name__ == "__main__":
    main()
