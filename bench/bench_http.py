"""HTTP benchmark: our webhook and REST endpoints against a bare Flask endpoint on the same server.

    . .venv/bin/activate && python bench/bench_http.py            # full run, about 6 minutes
    python bench/bench_http.py --quick                             # about 2 minutes
    python bench/bench_http.py --profile webhook --db sqlite       # py-spy flame data under load

For each server setup (gunicorn: 2 workers x 4 threads with gunicorn.conf.py; werkzeug's threaded
server via ``python app.py``) it starts the bare app (bench/bare_app.py) and ours, then for each
endpoint and concurrency runs the bare app and ours back to back and reports both and the ratio:

* ``POST /webhooks/telnyx``: signed ``message.received`` events ("list" and "remind me in 2 hours: x"
  in turn) from 10,000 different numbers, each with a unique message and event id, signed before the
  clock starts. The bot's dispatcher sends every reply to a fake Telnyx in a process of its own,
  during the run: that is part of the load.
* ``POST /sms/schedule`` with a bearer token, a job a day ahead.

Then: latency at half of our peak (paced, so queueing counts), and 10,000 ``POST /sms/schedule`` at
16 connections with every returned job_id checked for uniqueness. Per-sender limits and the
per-client rate limits are raised for the run (a single load generator is one client address).
Everything listens on 127.0.0.1; every run is bounded in requests and seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import floor_app  # noqa: E402
import loadgen  # noqa: E402
from loadgen import Request  # noqa: E402

ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
API_TOKEN = "bench-token-" + "x" * 32
BOT_NUMBER = "+13125550100"
TEXTS = ("list", "remind me in 2 hours: x")
SENDERS = [f"+1212555{n:04d}" for n in range(10_000)]
FAKE_LATENCY = 0.02  # seconds the fake Telnyx takes per message (the real one takes longer)
HARD_DEADLINE = 900.0  # the whole benchmark gives up after this many seconds
# Long enough for the inbox to work off a closed-loop cell on SQLite (3,000-4,000 webhooks at 150-250
# a second): with 15 s, the backlog left over ran beside the next cells, the other tree's and the
# other database's, and took a third to two thirds off their rates (2026-11-30, fourth round).
DRAIN_SECONDS = 60.0


# --- the fake Telnyx, in a process of its own ----------------------------------------------------

def serve_fake(latency: float) -> None:
    """Child process: run the fake; print its URL; answer each stdin line with the accepted count."""
    from tests.fake_telnyx import FakeTelnyx

    fake = FakeTelnyx(latency=latency)
    fake.start()
    print(fake.url, flush=True)
    for _ in sys.stdin:
        print(len(fake.delivered()), flush=True)
    fake.stop()


class Fake:
    """Handle on the fake Telnyx process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, __file__, "--serve-fake", str(FAKE_LATENCY)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            raise RuntimeError("the fake Telnyx did not start")

    def delivered(self) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- databases -----------------------------------------------------------------------------------

@contextmanager
def database(kind: str, directory: str, root: Path = ROOT) -> Iterator[str]:
    """Yield the URL of a fresh database migrated by ``root``'s code; a PostgreSQL one is dropped afterwards."""

    def migrate(url: str) -> None:
        # Before the server starts, so its workers do not race to migrate; by the tree that serves it
        # (a --compare-root tree does not know this tree's newer revisions).
        subprocess.run([sys.executable, "-c", "import sys; from bot.storage.db import make_engine, upgrade_database; "
                        "upgrade_database(make_engine(sys.argv[1]))", url], cwd=root, check=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(root)})

    if kind == "sqlite":
        url = f"sqlite:///{directory}/bench-{uuid.uuid4().hex[:6]}.db"
        migrate(url)
        yield url
        return
    import psycopg

    name = f"bench_http_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- servers -------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(port: int, process: subprocess.Popen, deadline_seconds: float = 60.0) -> float:
    """Poll /healthz until it answers 200; return the seconds it took. Raise on timeout or exit."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_seconds:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before /healthz answered")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"/healthz did not answer within {deadline_seconds} s")


def wait_transport_ready(port: int, deadline_seconds: float = 60.0) -> None:
    """Wait until /readyz says the Telnyx SDK is loaded (twice in a row, for either gunicorn worker).

    Otherwise the first seconds of a cell would measure the SDK's one-time import.
    """
    deadline = time.monotonic() + deadline_seconds
    in_a_row = 0
    while time.monotonic() < deadline and in_a_row < 4:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                # A tree from before /readyz had the field (--compare-root) counts as ready.
                in_a_row = in_a_row + 1 if json.load(response).get("transport_ready", True) else 0
        except OSError:
            in_a_row = 0
        time.sleep(0.05)
    if in_a_row < 4:
        raise RuntimeError(f"the Telnyx SDK did not load within {deadline_seconds} s")


def floor_environment(database_url: str, public_key: str) -> dict[str, str]:
    """The environment for bench/floor_app.py: its database, our key and token."""
    return dict(os.environ, DATABASE_URL=database_url, TELNYX_PUBLIC_KEY=public_key, API_TOKEN=API_TOKEN)


def our_environment(database_url: str, fake_url: str, public_key: str) -> dict[str, str]:
    """The environment for our app: the fake Telnyx, our key, limits raised for one busy client."""
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update({
        "DATABASE_URL": database_url, "TELNYX_API_KEY": "KEYbench", "TELNYX_PHONE_NUMBER": BOT_NUMBER,
        "TELNYX_BASE_URL": fake_url, "TELNYX_PUBLIC_KEY": public_key, "API_TOKEN": API_TOKEN,
        "RATE_LIMIT_WEBHOOK": "1000000/minute", "RATE_LIMIT_API": "1000000/minute",
        "MAX_NEW_PER_HOUR": "1000000", "MAX_PENDING_PER_SENDER": "1000000", "MAX_RECIPIENTS_PER_DAY": "1000000",
        "API_MAX_NEW_PER_HOUR": "1000000", "API_MAX_PENDING": "1000000", "API_MAX_RECIPIENTS_PER_DAY": "1000000",
        "OUTBOUND_RATE_PER_SECOND": "0", "LOG_LEVEL": "INFO", "LOG_FORMAT": "text",
    })
    return env


@dataclass
class Server:
    """One running server process."""

    name: str
    port: int
    process: subprocess.Popen
    log_path: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(name: str, setup: str, app: str, env: dict[str, str], directory: str,
                 root: Path = ROOT) -> Server:
    """Start the bare app or ours (from ``root``) under gunicorn or werkzeug; wait for /healthz."""
    port = free_port()
    env = dict(env, PORT=str(port), HOST="127.0.0.1")
    baseline = app in ("bare", "floor")  # served from bench/, like ours in every other respect
    if setup == "gunicorn":
        target = f"{app}_app:create_app()" if baseline else "app:create_app()"
        # The tree's own gunicorn.conf.py: it puts its directory first on sys.path, so ROOT's would
        # serve ROOT's code under a --compare-root tree's name.
        conf = (ROOT if baseline else root) / "gunicorn.conf.py"
        command = [GUNICORN, target, "-c", str(conf), "--workers", "2", "--threads", "4",
                   "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT / "bench" if baseline else root)]
    else:
        command = [sys.executable, str(ROOT / f"bench/{app}_app.py" if baseline else root / "app.py")]
    log_path = f"{directory}/{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    server = Server(name, port, process, log_path)
    try:
        wait_healthy(port, process)
        if app == "ours":
            wait_transport_ready(port)
    except Exception:
        server.stop()
        raise RuntimeError(f"{name} did not start; see {log_path}:\n" + Path(log_path).read_text()[-2000:])
    return server


# --- requests ------------------------------------------------------------------------------------

def webhook_requests(signer: Any, count: int, seed: int) -> list[Request]:
    """Signed message.received events, unique ids, many senders, "list" and "remind" in turn."""
    from tests.signing import encode, message_received

    chooser = random.Random(seed)
    requests = []
    for index in range(count):
        body = encode(message_received(TEXTS[index % len(TEXTS)], chooser.choice(SENDERS), to=BOT_NUMBER))
        requests.append(Request("POST", "/webhooks/telnyx", body, signer.headers(body)))
    return requests


def schedule_requests(count: int, seed: int) -> list[Request]:
    """POST /sms/schedule bodies, a job a day ahead, to many numbers."""
    chooser = random.Random(seed)
    send_at = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat(timespec="seconds").replace("+00:00", "Z")
    headers = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
    bodies = ({"to": chooser.choice(SENDERS), "message": f"bench {index}", "send_at": send_at}
              for index in range(count))
    return [Request("POST", "/sms/schedule", json.dumps(body).encode(), headers) for body in bodies]


ENDPOINTS: dict[str, tuple[Callable[[Any, int, int], list[Request]], Callable[[bytes], bool]]] = {
    # "accepted": stored, handled off the request (issue 16); "handled": a tree from before (--compare-root).
    "webhook": (webhook_requests, lambda body: b'"accepted"' in body or b'"handled"' in body),
    "schedule": (lambda _signer, count, seed: schedule_requests(count, seed), lambda body: b'"job_id"' in body),
}


# --- runs ----------------------------------------------------------------------------------------

WARM_UP = 40


def warm_up(server: Server, endpoint: str, signer: Any, connections: int) -> None:
    """Open connections and touch every code path once before the clock starts."""
    build, _check = ENDPOINTS[endpoint]
    loadgen.run(server.port, build(signer, WARM_UP, random.randrange(1 << 30)), min(connections, 4), 10)


_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")  # /proc counts CPU in these (Linux only, as /proc is)


def _cpu_seconds(pids: list[str]) -> dict[str, float]:
    """User and system CPU of each of these processes so far (Linux /proc; one gone meanwhile is left out)."""
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / _TICKS_PER_SECOND
    return seconds


def _pids(*command: str) -> list[str]:
    return subprocess.run(list(command), capture_output=True, text=True).stdout.split()


@dataclass
class CpuUse:
    """CPU per request of one cell, in ms: the server's processes, PostgreSQL's, the load generator's."""

    server: float
    database: float
    loadgen: float

    @property
    def total(self) -> float:
        return self.server + self.database + self.loadgen


class CpuMeter:
    """Reads the CPU a server (its process and workers), PostgreSQL and this process spent around a cell.

    The processes are listed at the start and at the end: one started during the cell (a pool opening
    another PostgreSQL connection) counts all its CPU, one that exited during it counts none of the
    cell's. PostgreSQL's figure is every postgres process's, so it also holds whatever else the server
    ran meanwhile (autovacuum, another server's dispatcher polling). Only for the cells of a PostgreSQL
    database.
    """

    def __init__(self, server: Server, with_database: bool) -> None:
        self.server = server
        self.with_database = with_database
        self.start = self._read()

    def _read(self) -> tuple[dict[str, float], dict[str, float], float]:
        pid = str(self.server.process.pid)
        own = os.times()
        return (_cpu_seconds([pid, *_pids("pgrep", "-P", pid)]),
                _cpu_seconds(_pids("pgrep", "-x", "postgres")) if self.with_database else {},
                own.user + own.system)

    def per_request(self, requests: int) -> CpuUse:
        (server, database, own), (server_start, database_start, own_start) = self._read(), self.start
        per_request = 1000 / max(requests, 1)  # ms per request, from seconds in all
        return CpuUse(sum(now - server_start.get(pid, 0.0) for pid, now in server.items()) * per_request,
                      sum(now - database_start.get(pid, 0.0) for pid, now in database.items()) * per_request,
                      (own - own_start) * per_request)


def measure(server: Server, endpoint: str, signer: Any, connections: int, seconds: float,
            expected_rate: float, *, rate: float | None = None, warm: bool = True,
            cpu_of: str | None = None) -> loadgen.Result:
    """Warm up, then run one closed-loop (or paced) load; requests are built before timing.

    With ``cpu_of`` (the database kind) the result also carries the cell's ``CpuUse`` as ``result.cpu``.
    """
    build, check = ENDPOINTS[endpoint]
    if warm:
        warm_up(server, endpoint, signer, connections)
    count = int((rate or expected_rate) * seconds * 1.3) + 200
    requests = build(signer, count, random.randrange(1 << 30))
    meter = CpuMeter(server, cpu_of == "postgresql") if cpu_of else None
    result = loadgen.run(server.port, requests, connections, seconds, rate=rate,
                         check_body=None if server.name.endswith("bare") else check)
    if meter is not None:
        result.cpu = meter.per_request(result.count)
    if rate is None and result.count >= count:  # the cell ended early: its rate is not a full cell's
        print(f"  {server.name}: all {count} requests were sent before {seconds:g} s; raise its expected rate",
              file=sys.stderr, flush=True)
    return result


def row(setup: str, db: str, endpoint: str, connections: int, bare: loadgen.Result,
        ours: loadgen.Result, mode: str = "closed", floor: loadgen.Result | None = None) -> dict[str, Any]:
    entry = {"setup": setup, "db": db, "endpoint": endpoint, "connections": connections, "mode": mode,
             "bare_rps": bare.rate, "ours_rps": ours.rate, "ratio": ours.rate / bare.rate if bare.rate else 0.0,
             "bare_p50": bare.percentile(0.5), "bare_p99": bare.percentile(0.99),
             "ours_p50": ours.percentile(0.5), "ours_p99": ours.percentile(0.99),
             "bare_errors": bare.errors, "ours_errors": ours.errors, "ours_count": ours.count,
             "ours_statuses": dict(ours.statuses), "ours_exceptions": dict(ours.exceptions)}
    for name, result in (("ours", ours), ("floor", floor)):
        if result is not None and result.cpu is not None:
            cpu = result.cpu
            entry.update({f"{name}_cpu_server": cpu.server, f"{name}_cpu_database": cpu.database,
                          f"{name}_cpu_loadgen": cpu.loadgen, f"{name}_cpu_total": cpu.total})
    if floor is not None:
        entry.update(floor_rps=floor.rate, floor_p50=floor.percentile(0.5), floor_p99=floor.percentile(0.99),
                     floor_errors=floor.errors, floor_ratio=floor.rate / bare.rate if bare.rate else 0.0,
                     ours_to_floor=ours.rate / floor.rate if floor.rate else 0.0)
    return entry


def median_row(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from a cell's rounds: the median of each figure, and each round's ours/floor ratio."""
    merged = dict(entries[-1])
    for key, value in entries[-1].items():
        figure = isinstance(value, (int, float)) and not isinstance(value, bool) and key != "connections"
        if figure:
            merged[key] = statistics.median(entry[key] for entry in entries)
    merged["rounds"] = [entry.get("ours_to_floor", entry["ratio"]) for entry in entries]
    return merged


def unique_ids(server: Server, count: int, connections: int, max_seconds: float) -> dict[str, Any]:
    """Send ``count`` POST /sms/schedule and check every returned job_id is distinct."""
    requests = schedule_requests(count, random.randrange(1 << 30))
    result = loadgen.run(server.port, requests, connections, max_seconds, keep_bodies=True,
                         check_body=lambda body: b'"job_id"' in body)
    ids = []
    for body in result.bodies:
        try:
            ids.append(json.loads(body)["job_id"])
        except (ValueError, KeyError, TypeError):
            pass
    return {"server": server.name, "sent": result.count, "rps": result.rate, "errors": result.errors,
            "ids": len(ids), "distinct": len(set(ids)), "duplicates": len(ids) - len(set(ids)),
            "p50": result.percentile(0.5), "p99": result.percentile(0.99)}


def run_setup(setup: str, dbs: list[str], levels: list[int], seconds: float, unique_count: int,
              fake: Fake, signer: Any, directory: str, started: float,
              compare_root: Path | None = None, endpoints: list[str] | None = None, rounds: int = 1,
              paced_rate: float | None = None, drain_seconds: float = DRAIN_SECONDS) -> dict[str, Any]:
    """Start the bare app and ours (one per database) under ``setup`` and run every comparison.

    With ``rounds`` over 1 each closed-loop cell is measured that many times, every server in turn
    each round, and the row gives the medians (``median_row``): this machine's speed drifts by up to
    2x within minutes, so a ratio of two cells minutes apart can say more about the drift than
    about the code.
    """
    rows: list[dict[str, Any]] = []
    paced: list[dict[str, Any]] = []
    uniqueness: list[dict[str, Any]] = []
    replies: list[dict[str, Any]] = []
    with ExitStack() as stack:
        bare = start_server(f"{setup}-bare", setup, "bare", dict(os.environ), directory)
        stack.callback(bare.stop)
        ours: dict[str, Server] = {}
        floors: dict[str, Server] = {}
        for db in dbs:
            floor_url = stack.enter_context(database(db, directory))
            floor_app.prepare(floor_url)
            floors[db] = start_server(f"{setup}-floor-{db}", setup, "floor",
                                      floor_environment(floor_url, signer.public_key), directory)
            stack.callback(floors[db].stop)
            variants = [("", ROOT)] + ([("before-", compare_root)] if compare_root else [])
            for prefix, root in variants:  # a --compare-root tree gets its own database, same settings
                url = stack.enter_context(database(db, directory, root))
                server = start_server(f"{setup}-ours-{prefix}{db}", setup, "ours",
                                      our_environment(url, fake.url, signer.public_key), directory, root)
                stack.callback(server.stop)
                ours[prefix + db] = server
        for endpoint in endpoints or list(ENDPOINTS):
            peak: dict[str, float] = {}
            for connections in levels:
                if time.monotonic() - started > HARD_DEADLINE:
                    break
                per_round: dict[str, list[dict[str, Any]]] = {db: [] for db in ours}
                for _ in range(rounds):  # each round measures every server once, in turn
                    bare_result = measure(bare, endpoint, signer, connections, seconds, 6000)
                    floor_results = {db: measure(floor, endpoint, signer, connections, seconds, 4000, cpu_of=db)
                                     for db, floor in floors.items()}
                    for db, server in ours.items():
                        warm_up(server, endpoint, signer, connections)
                        delivered_before = fake.delivered()
                        ours_result = measure(server, endpoint, signer, connections, seconds, 3000, warm=False,
                                              cpu_of=db.removeprefix("before-"))
                        per_round[db].append(row(setup, db, endpoint, connections, bare_result, ours_result,
                                                 floor=floor_results.get(db.removeprefix("before-"))))
                        if endpoint == "webhook":  # the backlog is worked off before the next cell starts
                            replies.append(drain_replies(fake, delivered_before,
                                                         ours_result.statuses.get(200, 0) - ours_result.bad_bodies,
                                                         f"{setup}-{db}-c{connections}", drain_seconds))
                        print(_progress(per_round[db][-1]), file=sys.stderr, flush=True)
                for db, entries in per_round.items():
                    rows.append(median_row(entries))
                    peak[db] = max(peak.get(db, 0.0), rows[-1]["ours_rps"])
            for db, server in ours.items():  # latency at half of our own peak, 16 connections, paced
                if db not in peak:
                    continue
                rate = paced_rate or peak[db] / 2
                ours_result = measure(server, endpoint, signer, 16, seconds, rate, rate=rate)
                bare_result = measure(bare, endpoint, signer, 16, seconds, rate, rate=rate)
                paced.append(row(setup, db, endpoint, 16, bare_result, ours_result, mode=f"paced {rate:.0f}/s"))
                print(_progress(paced[-1]), file=sys.stderr, flush=True)
        if unique_count and setup == "gunicorn":
            for db, server in ours.items():
                if db.startswith("before-"):
                    continue
                uniqueness.append(unique_ids(server, unique_count, 16, 240))
                print(uniqueness[-1], file=sys.stderr, flush=True)
    return {"rows": rows, "paced": paced, "uniqueness": uniqueness, "replies": replies}


def drain_replies(fake: Fake, before: int, handled: int, label: str, limit: float = DRAIN_SECONDS) -> dict[str, Any]:
    """Wait (bounded) until the fake has received one reply per handled webhook; report how long."""
    started = time.monotonic()
    delivered = fake.delivered() - before
    while delivered < handled and time.monotonic() - started < limit:
        time.sleep(0.1)
        delivered = fake.delivered() - before
    return {"label": label, "handled": handled, "replies_delivered": delivered,
            "drain_seconds": time.monotonic() - started}


def _progress(entry: dict[str, Any]) -> str:
    floor = f"floor {entry['floor_rps']:7.0f}/s  " if "floor_rps" in entry else ""
    return (f"  {entry['setup']:8} {entry['db']:8} {entry['endpoint']:8} c={entry['connections']:<3} "
            f"{entry['mode']:14} bare {entry['bare_rps']:7.0f}/s  {floor}ours {entry['ours_rps']:7.0f}/s "
            f"({entry['ratio']:.0%}) p99 {entry['ours_p99']:.1f} ms errors {entry['ours_errors']}")


# --- report --------------------------------------------------------------------------------------

def print_tables(report: dict[str, Any]) -> None:
    """Print the comparison, paced-latency, uniqueness and reply-drain tables (Markdown)."""
    print(f"\n### Throughput (closed loop, {report['seconds']:.0f} s per cell)\n")
    print("bare: Flask endpoint that only reads the body. floor: verifies the signature (or token) and commits "
          "the raw request in one INSERT, nothing else (bench/floor_app.py). ours: the bot.\n")
    print("| server | db | endpoint | conns | bare req/s | floor req/s | ours req/s | ours/bare | floor/bare "
          "| ours/floor | p50/p99 ms bare | floor | ours | errors bare/floor/ours |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for entry in report["rows"] + report["paced"]:
        conns = entry["connections"] if entry["mode"] == "closed" else f"{entry['connections']} ({entry['mode']})"
        has_floor = "floor_rps" in entry
        cells = [entry["setup"], entry["db"], entry["endpoint"], conns, f"{entry['bare_rps']:.0f}",
                 f"{entry['floor_rps']:.0f}" if has_floor else "-", f"{entry['ours_rps']:.0f}",
                 f"{entry['ratio']:.0%}", f"{entry['floor_ratio']:.0%}" if has_floor else "-",
                 f"{entry['ours_to_floor']:.0%}" if has_floor else "-",
                 f"{entry['bare_p50']:.1f} / {entry['bare_p99']:.1f}",
                 f"{entry['floor_p50']:.1f} / {entry['floor_p99']:.1f}" if has_floor else "-",
                 f"{entry['ours_p50']:.1f} / {entry['ours_p99']:.1f}",
                 f"{entry['bare_errors']} / {entry['floor_errors'] if has_floor else '-'} / {entry['ours_errors']}"]
        print("| " + " | ".join(str(cell) for cell in cells) + " |")
    if any(len(entry.get("rounds", [])) > 1 for entry in report["rows"]):
        print("\n### ours/floor in each round (the table above gives the median of each figure)\n")
        print("| server | db | endpoint | conns | each round | min | median | max |")
        print("|---|---|---|---|---|---:|---:|---:|")
        for entry in report["rows"]:
            ratios = entry.get("rounds", [])
            print(f"| {entry['setup']} | {entry['db']} | {entry['endpoint']} | {entry['connections']} | "
                  f"{', '.join(f'{ratio:.0%}' for ratio in ratios)} | {min(ratios):.0%} | "
                  f"{statistics.median(ratios):.0%} | {max(ratios):.0%} |")
    cpu_rows = [entry for entry in report["rows"] if "ours_cpu_total" in entry and "floor_cpu_total" in entry]
    if cpu_rows:
        print("\n### CPU per request, closed loop (ms; medians of the rounds)\n")
        print("On 2 cores shared by everything, throughput follows the CPU a request costs in all processes "
              "together, and this figure moves far less than req/s from round to round. PostgreSQL's column "
              "counts every postgres process (autovacuum too); it is 0 on SQLite, whose work is in the server's.\n")
        print("| server | db | endpoint | conns | floor: server / database / load generator = total "
              "| ours: server / database / load generator = total | floor total / ours total |")
        print("|---|---|---|---|---|---|---:|")
        for entry in cpu_rows:
            cells = [" / ".join(f"{entry[f'{name}_cpu_{part}']:.3f}" for part in ("server", "database", "loadgen"))
                     + f" = {entry[f'{name}_cpu_total']:.3f}" for name in ("floor", "ours")]
            print(f"| {entry['setup']} | {entry['db']} | {entry['endpoint']} | {entry['connections']} | {cells[0]} "
                  f"| {cells[1]} | {entry['floor_cpu_total'] / entry['ours_cpu_total']:.0%} |")
    if report["uniqueness"]:
        print("\n### POST /sms/schedule id uniqueness, 16 connections\n")
        print("| server | requests | req/s | errors | job_ids | distinct | duplicates | p50/p99 ms |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for entry in report["uniqueness"]:
            print(f"| {entry['server']} | {entry['sent']} | {entry['rps']:.0f} | {entry['errors']} | {entry['ids']} "
                  f"| {entry['distinct']} | {entry['duplicates']} | {entry['p50']:.1f} / {entry['p99']:.1f} |")
        print("| Telnyx example (ms-timestamp ids), as reported | - | ~850 | ~10% lost | - | - | ~1 in 10 | - |")
    if report["replies"]:
        print("\n### Replies sent by our dispatcher to the fake Telnyx during/after each webhook run"
              "\n(the count at the fake can include a few replies to the 40 warm-up webhooks)\n")
        print("| run | webhooks handled | replies at the fake | extra seconds to drain |")
        print("|---|---:|---:|---:|")
        for entry in report["replies"]:
            print(f"| {entry['label']} | {entry['handled']} | {entry['replies_delivered']} "
                  f"| {entry['drain_seconds']:.1f} |")


def profile(endpoint: str, db: str, seconds: float, connections: int, directory: str, output: str) -> None:
    """Run ours under gunicorn and record a py-spy profile of one worker while it is under load."""
    from tests.signing import WebhookSigner

    signer = WebhookSigner()
    fake = Fake()
    try:
        with database(db, directory) as url:
            server = start_server(f"profile-{db}", "gunicorn", "ours",
                                  our_environment(url, fake.url, signer.public_key), directory)
            try:
                children = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True,
                                          text=True).stdout.split()
                spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", children[0],
                                        "--duration", str(int(seconds)), "--rate", "250", "--format", "raw",
                                        "--output", output, "--nonblocking"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.5)
                result = measure(server, endpoint, signer, connections, seconds, 3000)
                spy.wait(seconds + 30)
                print(f"{endpoint} on {db}: {result.rate:.0f} req/s, p99 {result.percentile(0.99):.1f} ms, "
                      f"errors {result.errors}; py-spy raw output in {output}")
            finally:
                server.stop()
    finally:
        fake.stop()


def main() -> int:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="concurrency 1 and 16, 2 s per cell, 2,000 ids")
    parser.add_argument("--levels", type=int, nargs="*", default=[1, 4, 16, 32])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each cell")
    parser.add_argument("--db", nargs="*", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--setup", nargs="*", default=["gunicorn", "werkzeug"], choices=["gunicorn", "werkzeug"])
    parser.add_argument("--unique-count", type=int, default=10_000)
    parser.add_argument("--paced-rate", type=float,
                        help="pace every tree's paced cell at this rate (default: half of each one's own peak)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure each closed-loop cell this many times, servers in turn; report medians")
    parser.add_argument("--drain-seconds", type=float, default=DRAIN_SECONDS,
                        help="wait at most this long after a webhook cell for its replies (its backlog)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--endpoints", nargs="*", default=list(ENDPOINTS), choices=list(ENDPOINTS))
    parser.add_argument("--compare-root", type=Path,
                        help="also run ours from this copy of the repository (before/after a change), "
                        "as db 'before-<db>'")
    parser.add_argument("--profile", choices=list(ENDPOINTS), help="profile one endpoint with py-spy instead")
    parser.add_argument("--profile-output", default="/tmp/bench_http_profile.txt")
    parser.add_argument("--serve-fake", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake is not None:
        serve_fake(args.serve_fake)
        return 0
    if args.quick:
        args.levels, args.seconds, args.unique_count = [1, 16], 2.0, 2_000
    with tempfile.TemporaryDirectory(prefix="bench-http-") as directory:
        if args.profile:
            profile(args.profile, args.db[0], 15, 16, directory, args.profile_output)
            return 0
        from tests.signing import WebhookSigner

        started = time.monotonic()
        signer = WebhookSigner()
        fake = Fake()
        report: dict[str, Any] = {"seconds": args.seconds, "rows": [], "paced": [], "uniqueness": [], "replies": []}
        try:
            for setup in args.setup:
                dbs = args.db if setup == "gunicorn" else args.db[:1]  # python app.py: SQLite only
                part = run_setup(setup, dbs, args.levels, args.seconds, args.unique_count, fake, signer,
                                 directory, started, args.compare_root, args.endpoints, args.rounds,
                                 args.paced_rate, args.drain_seconds)
                for key in ("rows", "paced", "uniqueness", "replies"):
                    report[key].extend(part[key])
        finally:
            fake.stop()
        report["elapsed"] = time.monotonic() - started
        print_tables(report)
        print(f"\n(took {report['elapsed']:.0f} s)")
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
