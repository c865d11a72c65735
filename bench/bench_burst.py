"""Inbound bursts and sustained inbound load (issue 16): ours beside the floor, and before/after.

    . .venv/bin/activate && python bench/bench_burst.py          # SQLite and PostgreSQL, ~6 minutes
    python bench/bench_burst.py --quick                           # a burst of 200, 15 s sustained
    python bench/bench_burst.py --compare-root /path/to/before    # an earlier tree beside ours, same run
    python bench/bench_burst.py --db postgresql --json out.json
    python bench/bench_burst.py --db postgresql --scenario sustained   # only the sustained load
    python bench/bench_burst.py --busy 2                          # beside two spinning processes: a loaded machine

Every server runs as in production: gunicorn, ``gunicorn.conf.py``, 2 workers x 4 threads. Ours sends
through a fake Telnyx (20 ms a message, a process of its own) at the default outbound budget
(``OUTBOUND_RATE_PER_SECOND=50``, shared by both workers). The floor (``bench/floor_app.py``: verify the
signature, commit one INSERT, answer) gets the same requests in every row; it sends no confirmations.

* **Burst**: 600 signed ``message.received`` events ("remind me in 2 hours: ...") from 600 numbers,
  all in flight at once: 600 connections, one request each, released together. Targets: every answer
  2xx within 2 s of being sent (Telnyx's deadline); every number gets exactly one confirmation at the
  fake, the last within 600 / budget + 10 s of the burst; the database holds each message once.
* **Sustained**: 40 messages/s for 60 s, paced (latency counts from each request's due time), each from a
  number of its own. Inbound-to-confirmation is the time from a webhook's due time to its confirmation
  reaching the fake: what the person waits for "Got it". Target p99 < 1 s; the backlog (confirmations
  still to come when the last request was due) worked off within 10 s.
* **Stages** (ours, from its database): how long messages waited in the inbox (stored to handled) and
  for their reply to be sent (handled to sent, the dispatcher and the outbound budget).

Everything listens on 127.0.0.1; every run is bounded in requests and seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_http  # noqa: E402
import floor_app  # noqa: E402
import loadgen  # noqa: E402
from loadgen import Request  # noqa: E402

TELNYX_DEADLINE = 2.0  # seconds Telnyx waits for a 2xx before it retries
BUDGET = 50.0  # OUTBOUND_RATE_PER_SECOND, the default
TEXT = "remind me in 2 hours: burst {index}"
# A block of numbers per server and scenario, so no two runs share a number at the fake.
AREA_CODES = ("212", "646", "718", "917", "347", "929", "332", "516", "631", "914", "201", "551")


# --- the fake Telnyx, in a process of its own, reporting when each message arrived -----------------

def serve_fake(latency: float) -> None:
    """Child process: run the fake; print its URL; answer "dump" with [to, arrival] of every accepted message."""
    from tests.fake_telnyx import FakeTelnyx

    fake = FakeTelnyx(latency=latency)
    fake.start()
    print(fake.url, flush=True)
    for _line in sys.stdin:
        # received_at is time.monotonic(): CLOCK_MONOTONIC, the clock loadgen's perf_counter reads too.
        print(json.dumps([[message.to, message.received_at] for message in fake.delivered()]), flush=True)
    fake.stop()


class Fake:
    """Handle on the fake Telnyx process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, __file__, "--serve-fake", str(bench_http.FAKE_LATENCY)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            raise RuntimeError("the fake Telnyx did not start")

    def arrivals(self) -> dict[str, list[float]]:
        """Return, per recipient, when each message to it arrived (CLOCK_MONOTONIC seconds)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("dump\n")
        self.process.stdin.flush()
        by_number: dict[str, list[float]] = {}
        for number, arrived in json.loads(self.process.stdout.readline()):
            by_number.setdefault(number, []).append(arrived)
        return by_number

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- requests and measurements ---------------------------------------------------------------------

def numbers(block: int, count: int) -> list[str]:
    """``count`` distinct numbers of block ``block`` (a block is one area code, 10,000 numbers)."""
    area = AREA_CODES[block % len(AREA_CODES)]
    return [f"+1{area}555{index:04d}" for index in range(count)]


def signed_requests(signer: Any, senders: list[str]) -> list[Request]:
    """One signed message.received event per sender, in order, unique ids; signed before the clock starts."""
    from tests.signing import encode, message_received

    requests = []
    for index, sender in enumerate(senders):
        body = encode(message_received(TEXT.format(index=index), sender, to=bench_http.BOT_NUMBER))
        requests.append(Request("POST", "/webhooks/telnyx", body, signer.headers(body)))
    return requests


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _answers(result: loadgen.Result) -> dict[str, Any]:
    return {"sent": result.count, "errors": result.errors, "statuses": {str(k): v for k, v in result.statuses.items()},
            "answer_p50_ms": result.percentile(0.5), "answer_p99_ms": result.percentile(0.99),
            "answer_max_ms": max(result.latencies, default=0.0) * 1000,
            "late_answers": sum(1 for latency in result.latencies if latency > TELNYX_DEADLINE)}


def _confirmations(fake: Fake, senders: list[str], began: dict[int, float], until: float) -> dict[str, Any]:
    """Wait (until ``until``, monotonic) for one confirmation per sender; report waits, losses and doubles."""
    wanted = set(senders)
    arrivals: dict[str, list[float]] = {}
    while True:
        arrivals = {number: times for number, times in fake.arrivals().items() if number in wanted}
        if len(arrivals) == len(wanted) or time.monotonic() > until:
            break
        time.sleep(0.2)
    time.sleep(1.0)  # a second more: a doubled confirmation would arrive right behind the first
    arrivals = {number: times for number, times in fake.arrivals().items() if number in wanted}
    waits = [min(arrivals[sender]) - began[index] for index, sender in enumerate(senders)
             if sender in arrivals and index in began]
    last_due = max(began.values()) if began else 0.0
    last_arrival = max((min(times) for times in arrivals.values()), default=last_due)
    return {"confirmed": len(arrivals), "missing": len(wanted) - len(arrivals),
            "doubled": sum(1 for times in arrivals.values() if len(times) > 1),
            "wait_p50_s": _percentile(waits, 0.5), "wait_p99_s": _percentile(waits, 0.99),
            "wait_max_s": max(waits, default=float("nan")),
            "drain_after_last_due_s": max(0.0, last_arrival - last_due)}


def stored(database_url: str, senders: list[str]) -> dict[str, Any]:
    """Count the messages of ``senders`` stored as handled (each id at most once, by its key); time the stages.

    The stages, from the database of a tree with an inbox: stored -> handled (the inbox's wait) and
    handled -> reply sent (the dispatcher's and the outbound budget's).
    """
    from sqlalchemy import func, inspect, select

    from bot.storage.db import make_engine
    from bot.storage.models import InboundMessage, InboxMessage, Kind, Reminder
    from bot.timeutil import as_utc

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            entry: dict[str, Any] = {"stored": connection.execute(
                select(func.count()).select_from(InboundMessage).where(InboundMessage.sender.in_(senders))).scalar()}
            if not inspect(connection).has_table("inbox"):
                return entry
            handled = {row.sender: (as_utc(row.received_at), as_utc(row.handled_at)) for row in connection.execute(
                select(InboxMessage.sender, InboxMessage.received_at, InboxMessage.handled_at)
                .where(InboxMessage.sender.in_(senders), InboxMessage.handled_at.is_not(None)))}
            sent = {row.recipient: as_utc(row.sent_at) for row in connection.execute(
                select(Reminder.recipient, Reminder.sent_at).where(
                    Reminder.recipient.in_(senders), Reminder.kind == Kind.REPLY, Reminder.sent_at.is_not(None)))}
    finally:
        engine.dispose()
    if not handled:  # a tree from before the inbox (its database has the table, migrated by ours, unused)
        return entry
    inbox_waits = [(done - received).total_seconds() for received, done in handled.values()]
    reply_waits = [(sent[sender] - done).total_seconds() for sender, (_received, done) in handled.items()
                   if sender in sent]
    entry.update(inbox_p50_s=_percentile(inbox_waits, 0.5), inbox_p99_s=_percentile(inbox_waits, 0.99),
                 reply_p50_s=_percentile(reply_waits, 0.5), reply_p99_s=_percentile(reply_waits, 0.99))
    return entry


def burst(server: bench_http.Server, signer: Any, senders: list[str], fake: Fake | None,
          database_url: str | None) -> dict[str, Any]:
    """Send one request per sender, all at once; with a fake, wait for the confirmations."""
    requests = signed_requests(signer, senders)
    result = loadgen.run(server.port, requests, len(requests), 60)
    entry: dict[str, Any] = {"server": server.name, "scenario": f"burst {len(senders)}", **_answers(result)}
    if fake is not None and result.began:
        started = min(result.began.values())
        deadline = len(senders) / BUDGET + 10
        entry.update(_confirmations(fake, senders, result.began, started + deadline + 20))
        entry["last_confirmation_s"] = entry["wait_max_s"]
        entry["confirmation_deadline_s"] = deadline
    if database_url is not None:
        entry.update(stored(database_url, senders))
    return entry


def sustained(server: bench_http.Server, signer: Any, senders: list[str], rate: float, fake: Fake | None,
              database_url: str | None) -> dict[str, Any]:
    """Send one request per sender at ``rate`` a second (paced, 16 connections); with a fake, time the confirmations."""
    requests = signed_requests(signer, senders)
    seconds = len(senders) / rate
    result = loadgen.run(server.port, requests, 16, seconds + 5, rate=rate)
    entry: dict[str, Any] = {"server": server.name, "scenario": f"{rate:.0f}/s for {seconds:.0f} s", **_answers(result)}
    if fake is not None and result.began:
        entry.update(_confirmations(fake, senders, result.began, max(result.began.values()) + 30))
    if database_url is not None:
        entry.update(stored(database_url, senders))
    return entry


# --- the run ---------------------------------------------------------------------------------------

def _environment(database_url: str, fake_url: str, public_key: str) -> dict[str, str]:
    env = bench_http.our_environment(database_url, fake_url, public_key)
    env["OUTBOUND_RATE_PER_SECOND"] = f"{BUDGET:g}"  # the default budget: every confirmation spends it
    return env


def run(dbs: list[str], burst_size: int, rate: float, seconds: float, compare_root: Path | None,
        directory: str, scenarios: tuple[str, ...] = ("burst", "sustained")) -> list[dict[str, Any]]:
    """Run the burst and the sustained load against the floor and ours (and the earlier tree) on each database."""
    from tests.signing import WebhookSigner

    signer = WebhookSigner()
    fake = Fake()
    rows: list[dict[str, Any]] = []
    block = 0
    try:
        for db in dbs:
            with ExitStack() as stack:
                floor_url = stack.enter_context(bench_http.database(db, directory))
                floor_app.prepare(floor_url)
                floor = bench_http.start_server(f"floor-{db}", "gunicorn", "floor",
                                                bench_http.floor_environment(floor_url, signer.public_key), directory)
                stack.callback(floor.stop)
                variants = [("ours", ROOT)] + ([("before", compare_root)] if compare_root else [])
                servers = []
                for name, root in variants:
                    url = stack.enter_context(bench_http.database(db, directory, root))
                    server = bench_http.start_server(f"{name}-{db}", "gunicorn", "ours",
                                                     _environment(url, fake.url, signer.public_key), directory, root)
                    stack.callback(server.stop)
                    servers.append((server, url))
                if "burst" in scenarios:
                    block += 1
                    rows.append({"db": db, **burst(floor, signer, numbers(block, burst_size), None, None)})
                    _print(rows[-1])
                    for server, url in servers:
                        block += 1
                        rows.append({"db": db, **burst(server, signer, numbers(block, burst_size), fake, url)})
                        _print(rows[-1])
                if "sustained" in scenarios:
                    count = int(rate * seconds)
                    block += 1
                    rows.append({"db": db, **sustained(floor, signer, numbers(block, count), rate, None, None)})
                    _print(rows[-1])
                    for server, url in servers:
                        block += 1
                        rows.append({"db": db, **sustained(server, signer, numbers(block, count), rate, fake, url)})
                        _print(rows[-1])
    finally:
        fake.stop()
    return rows


def busy_processes(count: int) -> ExitStack:
    """Start ``count`` processes that only spin (stopped when the returned stack closes): a loaded machine.

    The slow PostgreSQL run of 2026-11-30 was on a machine at a load average of 4 on 2 cores; this
    makes such a load on demand, so that before and after are compared under the same one.
    """
    stack = ExitStack()
    for _ in range(count):
        process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        stack.callback(process.wait)
        stack.callback(process.kill)
    return stack


def _print(entry: dict[str, Any]) -> None:
    print("  " + json.dumps({key: round(value, 3) if isinstance(value, float) else value
                             for key, value in entry.items()}), file=sys.stderr, flush=True)


def _cell(entry: dict[str, Any], key: str, pattern: str = "{:.0f}") -> str:
    value = entry.get(key)
    return "-" if value is None else pattern.format(value)


def print_table(rows: list[dict[str, Any]]) -> None:
    """Print the results as one Markdown table."""
    print("\n| db | scenario | server | sent | errors | answer p50 / p99 / max ms | answers > 2 s "
          "| confirmed / missing / doubled | stored | wait p50 / p99 / max s | drain after last s "
          "| in inbox p50 / p99 s | handled to sent p50 / p99 s |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for entry in rows:
        confirmations = (f"{entry['confirmed']} / {entry['missing']} / {entry['doubled']}"
                         if "confirmed" in entry else "-")
        waits = (f"{entry['wait_p50_s']:.2f} / {entry['wait_p99_s']:.2f} / {entry['wait_max_s']:.2f}"
                 if "wait_p50_s" in entry else "-")
        print(f"| {entry['db']} | {entry['scenario']} | {entry['server']} | {entry['sent']} | {entry['errors']} "
              f"| {entry['answer_p50_ms']:.0f} / {entry['answer_p99_ms']:.0f} / {entry['answer_max_ms']:.0f} "
              f"| {entry['late_answers']} | {confirmations} | {_cell(entry, 'stored')} | {waits} "
              f"| {_cell(entry, 'drain_after_last_due_s', '{:.1f}')} "
              f"| {_cell(entry, 'inbox_p50_s', '{:.2f}')} / {_cell(entry, 'inbox_p99_s', '{:.2f}')} "
              f"| {_cell(entry, 'reply_p50_s', '{:.2f}')} / {_cell(entry, 'reply_p99_s', '{:.2f}')} |")


def main() -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a burst of 200 and 15 s of sustained load")
    parser.add_argument("--burst", type=int, default=600, help="messages in the burst (one connection each)")
    parser.add_argument("--rate", type=float, default=40.0, help="sustained messages a second")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the sustained load")
    parser.add_argument("--db", nargs="*", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--scenario", nargs="*", default=["burst", "sustained"], choices=["burst", "sustained"],
                        help="which loads to run (both by default)")
    parser.add_argument("--busy", type=int, default=0,
                        help="processes that only spin while it runs, to measure on a loaded machine")
    parser.add_argument("--compare-root", type=Path, help="also run this copy of the repository (before a change)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--serve-fake", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake is not None:
        serve_fake(args.serve_fake)
        return 0
    if args.quick:
        args.burst, args.seconds = 200, 15.0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as directory, busy_processes(args.busy):
        rows = run(args.db, args.burst, args.rate, args.seconds, args.compare_root, directory, tuple(args.scenario))
    print_table(rows)
    print(f"\n(took {time.monotonic() - started:.0f} s; load average {os.getloadavg()[0]:.2f} at the end)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
