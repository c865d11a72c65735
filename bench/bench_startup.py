"""Start-up benchmark: process start to first answer, ours against a bare Flask app and bare Python.

    . .venv/bin/activate && python bench/bench_startup.py [--runs 5] [--importtime]

* ``python app.py`` until ``GET /healthz`` answers 200, on a fresh SQLite file (migrations run) and on
  one already migrated; baseline: ``python bench/bare_app.py`` the same way.
* ``python -m bot parse "remind me tomorrow 9am: x"`` until it exits; baseline: ``python -c pass``.
* ``python app.py`` with a bad setting (``RUN_DISPATCHER=ture``) until it exits with status 2.

Start-up checks every setting and connects to the database once (``bot/config_check.py``), so every
start measured here includes that. Reports the median (and min/max) of ``--runs`` runs; the target is
under 1 s for each of ours.
``--importtime`` also prints the slowest imports of each (``python -X importtime``).
Everything listens on 127.0.0.1, every wait has a deadline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_http import free_port, wait_healthy  # noqa: E402

PARSE_TEXT = "remind me tomorrow 9am: x"
DEADLINE = 30.0  # seconds any one start may take before it counts as failed
TARGET = 1.0


def _environment(database_url: str | None, port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TELNYX_", "REDIS_URL"))}
    env.update({"HOST": "127.0.0.1", "LOG_LEVEL": "WARNING"})
    if port:  # 0 is for the commands that do not listen (PORT=0 is not a valid setting)
        env["PORT"] = str(port)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


# Configured as in production, so the Telnyx SDK is imported (it is most of our start-up); the base URL
# points at a closed local port: nothing is due, so nothing is sent.
TELNYX = {"TELNYX_API_KEY": "KEYbench", "TELNYX_PHONE_NUMBER": "+13125550100",
          "TELNYX_PUBLIC_KEY": "A" * 43 + "=", "TELNYX_BASE_URL": "http://127.0.0.1:9"}


def time_server(command: list[str], database_url: str | None, extra: dict[str, str] | None = None) -> float:
    """Seconds from spawning ``command`` to its first 200 on /healthz; the process is stopped after."""
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, env={**_environment(database_url, port), **(extra or {})},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(port, process, DEADLINE)
        return time.monotonic() - started
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def time_command(command: list[str]) -> float:
    """Seconds from spawning ``command`` to its (successful) exit."""
    started = time.monotonic()
    subprocess.run(command, cwd=ROOT, env=_environment(None, 0), check=True, stdout=subprocess.DEVNULL,
                   timeout=DEADLINE)
    return time.monotonic() - started


def time_refusal(command: list[str], extra: dict[str, str]) -> float:
    """Seconds from spawning ``command`` with a bad setting to its exit with status 2 (anything else fails)."""
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env={**_environment(None, 0), **extra}, capture_output=True, text=True,
                            timeout=DEADLINE)
    if result.returncode != 2 or len(result.stderr.splitlines()) != 1:
        raise RuntimeError(f"expected exit status 2 and one line, got {result.returncode}: {result.stderr[-2000:]}")
    return time.monotonic() - started


def slowest_imports(command: list[str], count: int = 12) -> list[tuple[float, str]]:
    """Run ``command`` under ``python -X importtime`` and return the slowest cumulative imports (ms)."""
    result = subprocess.run([command[0], "-X", "importtime", *command[1:]], cwd=ROOT, env=_environment(None, 0),
                            capture_output=True, text=True, timeout=DEADLINE)
    rows = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _self, cumulative, name = line[len("import time:"):].split("|")
            if cumulative.strip().isdigit():  # nested imports are indented under their importer
                rows.append((int(cumulative) / 1000, name[1:].rstrip()))
    top_level = [row for row in rows if not row[1].startswith(" ")]
    return sorted(top_level, reverse=True)[:count]


def main() -> int:
    """Run each start-up ``--runs`` times and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    python = sys.executable
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as directory:
        migrated = f"sqlite:///{directory}/migrated.db"
        time_server([python, "app.py"], migrated)  # migrate once, and warm the OS file cache
        cases: list[tuple[str, Any]] = [
            ("python app.py -> /healthz (fresh SQLite, migrates)",
             lambda run: time_server([python, "app.py"], f"sqlite:///{directory}/fresh-{run}.db")),
            ("python app.py -> /healthz (migrated SQLite)", lambda run: time_server([python, "app.py"], migrated)),
            ("python app.py -> /healthz (migrated SQLite, Telnyx configured)",
             lambda run: time_server([python, "app.py"], migrated, TELNYX)),
            ("baseline: bench/bare_app.py -> /healthz", lambda run: time_server([python, "bench/bare_app.py"], None)),
            (f'python -m bot parse "{PARSE_TEXT}"', lambda run: time_command([python, "-m", "bot", "parse", PARSE_TEXT])),
            ("baseline: python -c pass", lambda run: time_command([python, "-c", "pass"])),
            ("python app.py, RUN_DISPATCHER=ture -> exit 2",
             lambda run: time_refusal([python, "app.py"], {"RUN_DISPATCHER": "ture"})),
        ]
        for run in range(args.runs):  # interleave the cases, so machine noise hits them alike
            for name, measure in cases:
                results.setdefault(name, []).append(measure(run))
    print(f"\n### Start-up, {args.runs} runs each (seconds; target under {TARGET:g} s for ours)\n")
    print("| what | median | min | max | under target |")
    print("|---|---:|---:|---:|---|")
    for name, times in results.items():
        median = statistics.median(times)
        verdict = "-" if name.startswith("baseline") else ("yes" if median < TARGET else "NO")
        print(f"| {name} | {median:.2f} | {min(times):.2f} | {max(times):.2f} | {verdict} |")
    if args.importtime:
        for label, command in (("python app.py (import of app + create_app's imports)",
                                [python, "-c", "import app, webhooks.api, webhooks.telnyx, telnyx"]),
                               ("python -m bot parse", [python, "-m", "bot", "parse", PARSE_TEXT])):
            print(f"\nSlowest top-level imports, {label} (cumulative ms):")
            for milliseconds, name in slowest_imports(command):
                print(f"  {milliseconds:8.1f}  {name}")
    if args.json:
        Path(args.json).write_text(json.dumps({name: statistics.median(times) for name, times in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
