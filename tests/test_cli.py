"""The command line: parse (one message or stdin), preview (a series' send times), chat (the whole pipeline
in a terminal), migrate."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-23T10:00:00-05:00"


def _run(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


def test_parse_one_message():
    result = _run("parse", "--now", NOW, "--tz", "America/New_York", "--sender", "+12125550147",
                  "remind me tomorrow 9am: Call Mom")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"command": "remind", "to": "+12125550147",
                                         "send_at": "2026-11-24T09:00:00-05:00", "text": "Call Mom",
                                         "recurrence": None, "anchor": None}


def test_parse_reads_stdin_one_message_per_line():
    result = _run("parse", "--now", NOW, "--tz", "America/New_York", stdin="list\ncancel #K3X9\nblorp\n")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0] == {"command": "list"}
    assert lines[1] == {"command": "cancel", "id": "k3x9"}
    assert lines[2]["command"] == "error" and "blorp" in lines[2]["error"]


def test_parse_rejects_a_bad_context():
    result = _run("parse", "--now", "not a time", "list")
    assert result.returncode == 2 and "error" in result.stderr


def test_preview_a_daily_reminder_across_a_dst_gap():
    result = _run("preview", "--tz", "Europe/Berlin", "--now", "2026-03-27T12:00:00+01:00", "--count", "5",
                  "every day at 2:30am")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["2026-03-28T02:30:00+01:00", "2026-03-29T03:30:00+02:00",
                                         "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00",
                                         "2026-04-01T02:30:00+02:00"]


def test_preview_reads_a_whole_message_and_an_rrule_alike():
    message = _run("preview", "--tz", "America/New_York", "--now", "2026-01-30T12:00:00-05:00", "--count", "4",
                   "remind me every month on the 31st at 9am: rent")
    rule = _run("preview", "--tz", "America/New_York", "--now", "2026-01-30T12:00:00-05:00", "--count", "4",
                "--start", "2026-01-31T09:00:00", "FREQ=MONTHLY;BYMONTHDAY=31")
    expected = ["2026-01-31T09:00:00-05:00", "2026-02-28T09:00:00-05:00", "2026-03-31T09:00:00-04:00",
                "2026-04-30T09:00:00-04:00"]
    assert json.loads(message.stdout) == expected, message.stderr
    assert json.loads(rule.stdout) == expected, rule.stderr


def test_preview_an_rrule_starts_at_now_and_ends_with_its_count():
    result = _run("preview", "--tz", "UTC", "--now", "2026-06-10T08:00:00+00:00",
                  "RRULE:FREQ=HOURLY;INTERVAL=2;COUNT=3")
    assert json.loads(result.stdout) == ["2026-06-10T08:00:00+00:00", "2026-06-10T10:00:00+00:00",
                                         "2026-06-10T12:00:00+00:00"], result.stderr


def test_preview_of_a_one_off_is_its_one_time():
    result = _run("preview", "--tz", "America/New_York", "--now", NOW, "in 5 minutes")
    assert json.loads(result.stdout) == ["2026-11-23T10:05:00-05:00"], result.stderr


@pytest.mark.parametrize("args, message", [
    (["--tz", "Not/AZone", "every day"], "unknown time zone"),
    (["--tz", "UTC", "--now", "not a time", "every day"], "error"),
    (["--tz", "UTC", "blorp"], "couldn't read"),
    (["--tz", "UTC", "FREQ=SOMETIMES"], "unreadable rule"),
    (["--tz", "UTC", "--count", "0", "every day"], "--count"),
], ids=["zone", "now", "phrase", "rule", "count"])
def test_preview_refuses_bad_input_in_one_line(args, message):
    result = _run("preview", *args)
    assert result.returncode == 2 and result.stdout == ""
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_migrate_upgrades_a_new_database(tmp_path):
    result = _run("migrate", "--db", f"sqlite:///{tmp_path / 'm.db'}")
    assert result.returncode == 0, result.stderr
    assert "database at revision" in result.stdout


def test_chat_runs_the_whole_pipeline(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--number", "+12125550147", "--db", f"sqlite:///{tmp_path / 'c.db'}"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("TELNYX_")})
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()

    def wait_for(fragment: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if fragment in line:
                return line
        raise AssertionError(f"{fragment!r} never appeared")

    try:
        process.stdin.write("remind me in 2 seconds: stretch\n")
        process.stdin.flush()
        assert "to you on" in wait_for("Got it (#")
        assert wait_for("[bot] Reminder: stretch")
        # The console prints the message during the send, just before the row is marked sent: ask
        # again until the list says so (bounded), rather than racing the dispatcher's last write.
        for _ in range(50):
            process.stdin.write("list\n")
            process.stdin.flush()
            if "You have no pending reminders" in wait_for("[bot] "):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the sent reminder stayed pending")
    finally:
        process.stdin.close()
        process.wait(timeout=20)
    assert process.returncode == 0
