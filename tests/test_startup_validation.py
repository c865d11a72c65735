"""Start-up refuses a bad configuration with one line naming the variable and exit status 2.

Real processes: ``python app.py``, gunicorn with ``gunicorn.conf.py`` and ``python -m bot migrate``,
each with a bad setting, an unreachable PostgreSQL or Redis on a closed local port, or a SQLite path
that cannot be written even by root. A good configuration starts on 127.0.0.1, and gunicorn reads
``.env`` as ``python app.py`` does.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError
from tests.conftest import nth_message_to, send_sms, wait_until
from tests.test_shutdown import free_port, healthy

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60  # seconds a refused start may take, imports included, on a busy machine
SETTING_NAMES = {field.name.upper() for field in dataclasses.fields(Settings)} | {
    "WEB_CONCURRENCY", "GUNICORN_THREADS", "PROMETHEUS_MULTIPROC_DIR"}
SECRET = "hunter22secret"  # put in every password and key below; must never be printed


def _environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The test process's environment without any bot setting, plus ``settings`` on a scratch database."""
    environment = {key: value for key, value in os.environ.items() if key not in SETTING_NAMES}
    environment.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", **settings})
    return environment


def _assert_refused(result: subprocess.CompletedProcess, variable: str) -> str:
    """Exit status 2 and exactly one line on stderr, naming ``variable``; no traceback, no secret."""
    lines = result.stderr.splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith(f"configuration error: {variable}"), lines[0]
    assert "expected" in lines[0]
    assert SECRET not in result.stderr + result.stdout
    return lines[0]


def _not_a_directory(tmp_path: Path) -> str:
    # root ignores chmod, so a read-only directory would not stop it; a path under a regular file
    # cannot be created by anyone.
    (tmp_path / "afile").write_text("a file, not a directory")
    return f"sqlite:///{tmp_path / 'afile' / 'bot.db'}"


BAD = [
    ("zone", {"BOT_TIMEZONE": "Mars/Olympus"}, "BOT_TIMEZONE", "IANA"),
    ("public-key", {"TELNYX_PUBLIC_KEY": SECRET}, "TELNYX_PUBLIC_KEY", "32-byte"),
    ("e164", {"ALLOWED_SENDERS": "212-555-0147"}, "ALLOWED_SENDERS", "did you mean +12125550147?"),
    ("key-without-number", {"TELNYX_API_KEY": SECRET}, "TELNYX_PHONE_NUMBER", "TELNYX_API_KEY is"),
    ("boolean", {"RUN_DISPATCHER": "ture"}, "RUN_DISPATCHER", "true or false"),
    ("number-range", {"DISPATCH_CONCURRENCY": "0"}, "DISPATCH_CONCURRENCY", "from 1 to 256"),
    ("number-word", {"DISPATCH_INTERVAL_SECONDS": "fast"}, "DISPATCH_INTERVAL_SECONDS", "seconds from 0.05"),
    ("rate-limit", {"RATE_LIMIT_API": "lots"}, "RATE_LIMIT_API", "600/minute"),
    ("database-url-syntax", {"DATABASE_URL": f"postgresql://bot:{SECRET}@db:port/reminders"}, "DATABASE_URL",
     "not a URL"),
    ("postgresql-down", {"DATABASE_URL": "postgresql+psycopg://postgres:{secret}@127.0.0.1:{closed}/bot"},
     "DATABASE_URL", "Connection refused"),
    ("sqlite-unwritable", {"DATABASE_URL": "sqlite:///{tmp}/afile/bot.db"}, "DATABASE_URL", "which is not a directory"),
    ("redis-down", {"REDIS_URL": "redis://:{secret}@127.0.0.1:{closed}/0"}, "REDIS_URL", "Connection refused"),
]


@pytest.mark.parametrize("settings, variable, says", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_python_app_py_refuses_a_bad_setting_in_one_line(tmp_path, settings, variable, says):
    _not_a_directory(tmp_path)
    settings = {key: value.format(secret=SECRET, closed=free_port(), tmp=tmp_path) for key, value in settings.items()}
    result = subprocess.run([sys.executable, str(ROOT / "app.py")], cwd=tmp_path, env=_environment(tmp_path, **settings),
                            capture_output=True, text=True, timeout=TIMEOUT)
    line = _assert_refused(result, variable)
    assert says in line, line
    assert result.stdout == ""
    assert not (tmp_path / "bot.db").exists()  # stopped before anything was created


def test_python_m_bot_migrate_refuses_an_unreachable_database(tmp_path):
    url = f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:{free_port()}/bot"
    result = subprocess.run([sys.executable, "-m", "bot", "migrate"], cwd=ROOT, capture_output=True, text=True,
                            env=_environment(tmp_path, DATABASE_URL=url), timeout=TIMEOUT)
    assert "Connection refused" in _assert_refused(result, "DATABASE_URL")


def test_python_m_bot_migrate_refuses_an_unwritable_sqlite_path_given_by_db(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bot", "migrate", "--db", _not_a_directory(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, env=_environment(tmp_path), timeout=TIMEOUT)
    _assert_refused(result, "DATABASE_URL")


def test_python_m_bot_parse_reads_an_alias_zone_and_refuses_a_bad_one(tmp_path):
    command = [sys.executable, "-m", "bot", "parse", "--now", "2026-11-23T10:00:00+00:00", "--sender", "+18885550123",
               "remind me at 5pm: x"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT,
                            env=_environment(tmp_path, BOT_TIMEZONE="eastern"))
    assert result.returncode == 0, result.stderr
    assert '"send_at": "2026-11-23T17:00:00-05:00"' in result.stdout  # 5pm in New York, not an error
    refused = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT,
                             env=_environment(tmp_path, BOT_TIMEZONE="Mars/Olympus"))
    _assert_refused(refused, "BOT_TIMEZONE")


def _gunicorn() -> str:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    assert gunicorn, "gunicorn is in requirements.txt"
    return gunicorn


def _gunicorn_directory(tmp_path: Path, dotenv: str) -> Path:
    """A directory holding gunicorn.conf.py and a .env: the conf file reads the .env found from its own directory."""
    directory = tmp_path / "deploy"
    directory.mkdir()
    shutil.copy(ROOT / "gunicorn.conf.py", directory / "gunicorn.conf.py")
    (directory / ".env").write_text(dotenv)
    return directory


def test_gunicorn_refuses_a_bad_setting_from_dotenv_in_one_line(tmp_path):
    directory = _gunicorn_directory(tmp_path, f"DATABASE_URL=sqlite:///{tmp_path / 'bot.db'}\nRUN_DISPATCHER=ture\n")
    environment = _environment(tmp_path)
    del environment["DATABASE_URL"]  # from the .env
    result = subprocess.run([_gunicorn(), "app:create_app()", "-c", "gunicorn.conf.py"], cwd=directory,
                            env=environment, capture_output=True, text=True, timeout=TIMEOUT)
    assert "'ture'" in _assert_refused(result, "RUN_DISPATCHER")
    assert not (tmp_path / "bot.db").exists()


@pytest.mark.parametrize("settings, variable", [
    ({"REDIS_URL": "redis://:{secret}@127.0.0.1:{closed}/0"}, "REDIS_URL"),
    ({"GUNICORN_THREADS": "0"}, "GUNICORN_THREADS"),
], ids=["redis-down", "threads"])
def test_gunicorn_refuses_a_bad_setting_from_the_environment(tmp_path, settings, variable):
    settings = {key: value.format(secret=SECRET, closed=free_port()) for key, value in settings.items()}
    result = subprocess.run([_gunicorn(), "app:create_app()", "-c", str(ROOT / "gunicorn.conf.py")], cwd=ROOT,
                            env=_environment(tmp_path, **settings), capture_output=True, text=True, timeout=TIMEOUT)
    _assert_refused(result, variable)


def _stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        raise


def _serve_until_healthy(command: list[str], cwd: Path, environment: dict[str, str], port: int,
                         log: Path) -> tuple[int, str]:
    """Start a server, wait until /healthz answers (it must not exit first), stop it; return its exit code and log."""
    with log.open("w") as output:
        server = subprocess.Popen(command, cwd=cwd, env=environment, stdout=output, stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: healthy(port) or server.poll() is not None, timeout=TIMEOUT), log.read_text()
        assert server.poll() is None, log.read_text()[-3000:]
    finally:
        code = _stop(server)
    return code, log.read_text()


def test_gunicorn_reads_dotenv_and_listens_on_127_0_0_1_by_default(tmp_path):
    port = free_port()
    directory = _gunicorn_directory(tmp_path, f"PORT={port}\nDATABASE_URL=sqlite:///{tmp_path / 'bot.db'}\n"
                                              "DISPATCH_INTERVAL_SECONDS=\nWEB_CONCURRENCY=1\nBOT_TIMEZONE=eastern\n")
    environment = _environment(tmp_path)
    del environment["DATABASE_URL"]
    code, text = _serve_until_healthy([_gunicorn(), "app:create_app()", "-c", "gunicorn.conf.py"], directory,
                                      environment, port, tmp_path / "gunicorn.log")
    assert f"Listening at: http://127.0.0.1:{port}" in text, text[-3000:]
    assert len([line for line in text.splitlines() if "Booting worker" in line]) == 1  # WEB_CONCURRENCY from .env
    assert code == 0 and "Traceback" not in text, text[-3000:]


def test_python_app_py_starts_on_127_0_0_1_and_says_it_is_for_development(tmp_path):
    port = free_port()
    environment = _environment(tmp_path, PORT=str(port), BOT_TIMEZONE="eastern", DISPATCH_INTERVAL_SECONDS="",
                               RUN_DISPATCHER="yes")
    code, text = _serve_until_healthy([sys.executable, str(ROOT / "app.py")], tmp_path, environment, port,
                                      tmp_path / "app.log")
    assert re.search(r"WARNING .*development server, for development only", text), text[-3000:]
    assert f"Serving on http://127.0.0.1:{port}" in text, text[-3000:]
    assert code == 0, text[-3000:]


def test_create_app_raises_settings_error_for_a_bad_value(app_factory):
    with pytest.raises(SettingsError) as caught:
        app_factory(RATE_LIMIT_API="lots")
    assert caught.value.variable == "RATE_LIMIT_API"


def test_an_alias_zone_serves_numbers_whose_zone_is_unknown(app_factory, signer, fake_telnyx):
    # BOT_TIMEZONE=eastern used to start cleanly, then answer every message from such a number with
    # "Sorry, I couldn't read that", list included.
    toll_free = "+18885550123"  # libphonenumber cannot tell a toll-free number's zone
    app = app_factory(BOT_TIMEZONE="eastern")
    assert app.extensions["bot"].settings.bot_timezone == "America/New_York"
    client = app.test_client()
    send_sms(client, signer, "remind me tomorrow at 9am: stretch", sender=toll_free)
    # The first send waits for the Telnyx SDK to load in the background: seconds on a busy machine.
    assert re.search(r"at 9:00 AM E[SD]T", nth_message_to(fake_telnyx, toll_free, 1, timeout=45).text)
    send_sms(client, signer, "list", sender=toll_free)
    listing = nth_message_to(fake_telnyx, toll_free, 2, timeout=30).text
    assert "stretch" in listing and "couldn't read" not in listing
