"""Twilio next to Telnyx: webhook and dispatch throughput on the fakes, and the cost of a signature check.

    . .venv/bin/activate && python bench/bench_twilio.py           # about 3 minutes
    python bench/bench_twilio.py --seconds 5 --rows 500             # a quicker look

* Signature check, per request, in this process (median of 7 runs of 2,000): Twilio's
  ``RequestValidator.validate`` over an inbound SMS's 19 form fields (HMAC-SHA1 of the URL and the
  sorted fields, computed twice: with and without the port) against Telnyx's ed25519 check
  (``webhooks.signature.verify_signature``); and the whole inbound request through Flask's test
  client (no socket), signature, form parsing and the inbox's INSERT included, for both webhooks.
* Webhook throughput: our app under gunicorn (2 workers x 4 threads, gunicorn.conf.py) on SQLite, one
  server at a time (started for its run, stopped after), 16 keep-alive connections for ``--seconds``,
  alternating Telnyx and Twilio ``--rounds`` times: signed ``message.received`` events to /webhooks/telnyx, signed forms to /webhooks/twilio
  ("list" and "remind me in 2 hours: x" in turn, unique message ids, many senders). The replies go
  out to that provider's fake (in a process of its own) during the run.
* Dispatch throughput: ``--rows`` reminders due at the same second (12 s after the instance is up,
  so both SDKs have loaded), one instance on SQLite, 32 concurrent sends, the fake answering after
  50 ms (bench/bench_dispatch.py's set-up), per provider, alternating twice.

Everything listens on 127.0.0.1; every run is bounded. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_dispatch  # noqa: E402
import bench_http  # noqa: E402
import loadgen  # noqa: E402
from loadgen import Request  # noqa: E402

from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, TwilioSigner  # noqa: E402
from tests.signing import WebhookSigner, encode, message_received  # noqa: E402

BOT_NUMBER = "+13125550100"
TEXTS = ("list", "remind me in 2 hours: x")
SENDERS = [f"+1212555{n:04d}" for n in range(10_000)]
CONNECTIONS = 16
LEAD_SECONDS = 12


# --- the fakes, each in a process of its own -------------------------------------------------------

def serve_fake(provider: str, latency: float) -> None:
    """Child process: run a provider's fake; print its URL; on a line "PATH" write what it took to PATH."""
    from tests.fake_telnyx import FakeTelnyx
    from tests.fake_twilio import FakeTwilio

    fake = (FakeTwilio if provider == "twilio" else FakeTelnyx)(latency=latency)
    fake.start()
    print(fake.url, flush=True)
    for line in sys.stdin:
        offset = time.time() - time.monotonic()
        taken = [m.received_at + offset for m in fake.delivered()]
        Path(line.strip()).write_text(json.dumps({"taken": taken, "posts": len(fake.messages),
                                                  "lookups": len(getattr(fake, "lookups", []))}))
        print("dumped", flush=True)
    fake.stop()


class Fake:
    def __init__(self, provider: str, latency: float) -> None:
        self.process = subprocess.Popen([sys.executable, __file__, "--serve-fake", provider, str(latency)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()

    def dump(self) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        with tempfile.NamedTemporaryFile(suffix=".json") as target:
            self.process.stdin.write(target.name + "\n")
            self.process.stdin.flush()
            self.process.stdout.readline()
            return json.loads(Path(target.name).read_text())

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def provider_environment(provider: str, fake_url: str) -> dict[str, str]:
    if provider == "twilio":
        return {"SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "TWILIO_PHONE_NUMBER": BOT_NUMBER, "TWILIO_BASE_URL": fake_url, "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
                "TELNYX_API_KEY": "", "TELNYX_PHONE_NUMBER": "", "TELNYX_BASE_URL": ""}
    return {"TELNYX_API_KEY": "KEYbench", "TELNYX_PHONE_NUMBER": BOT_NUMBER, "TELNYX_BASE_URL": fake_url}


# --- signature checks ------------------------------------------------------------------------------

def per_call_microseconds(call: Any, number: int = 2000, repeat: int = 7) -> float:
    return statistics.median(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e6


def signature_costs() -> dict[str, float]:
    from twilio.request_validator import RequestValidator
    from werkzeug.datastructures import ImmutableMultiDict

    from webhooks.signature import verify_signature

    twilio = TwilioSigner()
    fields = twilio.inbound("remind me in 2 hours: x", SENDERS[0])
    form = ImmutableMultiDict(fields)  # what webhooks/twilio.py hands the validator: Flask's request.form
    url = PUBLIC_BASE_URL + "/webhooks/twilio"
    signature = twilio.headers("/webhooks/twilio", fields)["X-Twilio-Signature"]
    validator = RequestValidator(AUTH_TOKEN)
    assert validator.validate(url, form, signature)

    telnyx = WebhookSigner()
    body = encode(message_received("remind me in 2 hours: x", SENDERS[0]))
    headers = telnyx.headers(body)
    now = time.time()
    verify_signature(body, headers, telnyx.public_key, now)
    return {"twilio_validate_us": per_call_microseconds(lambda: validator.validate(url, form, signature)),
            "telnyx_verify_us": per_call_microseconds(lambda: verify_signature(body, headers, telnyx.public_key, now))}


def in_process_request_costs(directory: str, count: int = 400) -> dict[str, float]:
    """Time whole inbound requests through Flask's test client (no dispatcher, no socket)."""
    from app import create_app

    results = {}
    for provider in ("telnyx", "twilio"):
        telnyx = WebhookSigner()
        config = {"DATABASE_URL": f"sqlite:///{directory}/inproc-{provider}.db", "RUN_DISPATCHER": False,
                  "LOAD_DOTENV": False, "TELNYX_PUBLIC_KEY": telnyx.public_key, "RATE_LIMIT_WEBHOOK": "1000000/minute",
                  "LOG_LEVEL": "WARNING", **provider_environment(provider, "http://127.0.0.1:9")}
        app = create_app({k: (None if v == "" else v) for k, v in config.items()})
        client = app.test_client()
        twilio = TwilioSigner()
        requests = []
        for index in range(count):
            sender, text = random.choice(SENDERS), TEXTS[index % 2]
            if provider == "twilio":
                form = twilio.inbound(text, sender)
                requests.append(("/webhooks/twilio", urlencode(form).encode(), twilio.headers("/webhooks/twilio", form)))
            else:
                body = encode(message_received(text, sender))
                requests.append(("/webhooks/telnyx", body, telnyx.headers(body)))
        for path, body, headers in requests[:20]:  # warm up
            client.post(path, data=body, headers=headers)
        started = time.perf_counter()
        for path, body, headers in requests[20:]:
            response = client.post(path, data=body, headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)
        results[f"{provider}_request_us"] = (time.perf_counter() - started) / (count - 20) * 1e6
        app.extensions["bot"].shutdown()
        app.extensions["bot"].engine.dispose()
    return results


# --- webhook throughput ----------------------------------------------------------------------------

def webhook_requests(provider: str, count: int) -> list[Request]:
    chooser = random.Random(uuid.uuid4().int)
    requests = []
    if provider == "twilio":
        signer = TwilioSigner()
        for index in range(count):
            form = signer.inbound(TEXTS[index % 2], chooser.choice(SENDERS))
            requests.append(Request("POST", "/webhooks/twilio", urlencode(form).encode(),
                                    signer.headers("/webhooks/twilio", form)))
        return requests
    for index in range(count):
        body = encode(message_received(TEXTS[index % 2], chooser.choice(SENDERS), to=BOT_NUMBER))
        requests.append(Request("POST", "/webhooks/telnyx", body, TELNYX_SIGNER.headers(body)))
    return requests


TELNYX_SIGNER = WebhookSigner()


def webhook_throughput(seconds: float, rounds: int, directory: str) -> list[dict[str, Any]]:
    """One server at a time (each on a fresh database), so one's backlog of replies never slows the other's run."""
    rows = []
    for round_number in range(rounds):
        for provider in ("telnyx", "twilio"):
            fake = Fake(provider, bench_http.FAKE_LATENCY)
            url = f"sqlite:///{directory}/webhook-{provider}-{round_number}.db"
            bench_dispatch._migrate(url, *_storage())
            env = bench_http.our_environment(url, fake.url, TELNYX_SIGNER.public_key)
            env.update(provider_environment(provider, fake.url))
            server = bench_http.start_server(f"ours-{provider}", "gunicorn", "ours", env, directory)
            try:
                loadgen.run(server.port, webhook_requests(provider, 40), 4, 10)  # warm up
                requests = webhook_requests(provider, int(400 * seconds) + 200)
                result = loadgen.run(server.port, requests, CONNECTIONS, seconds,
                                     check_body=lambda body: b"accepted" in body or b"<Response/>" in body)
            finally:
                server.stop()
                replies = len(fake.dump()["taken"])
                fake.stop()
            rows.append({"provider": provider, "round": round_number + 1, "rps": round(result.rate, 1),
                         "p50_ms": round(result.percentile(0.5), 1), "p99_ms": round(result.percentile(0.99), 1),
                         "errors": result.errors, "requests": result.count, "replies_sent": replies})
    return rows


def _storage() -> tuple[Any, Any]:
    from bot.storage.db import make_engine, upgrade_database

    return make_engine, upgrade_database


# --- dispatch throughput ---------------------------------------------------------------------------

def dispatch_throughput(provider: str, rows: int, concurrency: int = 32) -> dict[str, Any]:
    with bench_dispatch.database("sqlite") as url:
        fake = Fake(provider, bench_dispatch.LATENCY)
        environment = {**os.environ, "BENCH_POOL_SIZE": "10", "DATABASE_URL": url,
                       "DISPATCH_CONCURRENCY": str(concurrency), "OUTBOUND_RATE_PER_SECOND": "0",
                       "DISPATCH_INTERVAL_SECONDS": "1", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT),
                       **provider_environment(provider, fake.url)}
        instance = subprocess.Popen([sys.executable, str(ROOT / "bench/bench_dispatch.py"), "--instance"],
                                    stdout=subprocess.PIPE, text=True, cwd=ROOT, env=environment)
        try:
            assert instance.stdout is not None
            json.loads(instance.stdout.readline())  # ready
            # A lead long enough for the SDK's background import on a busy machine (Telnyx's takes seconds).
            due = datetime.now(timezone.utc) + timedelta(seconds=LEAD_SECONDS)
            bench_dispatch.insert_due(url, rows, due)
            deadline = time.monotonic() + bench_dispatch.DEADLINE
            while bench_dispatch.count_sent(url) < rows and time.monotonic() < deadline:
                time.sleep(0.25)
            bench_dispatch.stop_instances([instance])
            taken = fake.dump()
        finally:
            if instance.poll() is None:
                instance.kill()
            fake.stop()
    lateness = [at - due.timestamp() for at in taken["taken"]]
    return {"provider": provider, "rows": rows, "sent": len(lateness), "posts": taken["posts"],
            "lookups": taken["lookups"], "first_sent_s": round(min(lateness), 2), "last_sent_s": round(max(lateness), 2),
            "p50_s": round(bench_dispatch.percentile(lateness, 0.5), 2),
            "p99_s": round(bench_dispatch.percentile(lateness, 0.99), 2),
            "per_second": round(len(lateness) / max(max(lateness), 1e-9), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of one webhook run")
    parser.add_argument("--rounds", type=int, default=2, help="alternating webhook runs per provider")
    parser.add_argument("--rows", type=int, default=2000, help="reminders due at once, per provider")
    parser.add_argument("--serve-fake", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        serve_fake(args.serve_fake[0], float(args.serve_fake[1]))
        return
    print(f"# {bench_dispatch.machine()}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", flush=True)
    print(json.dumps({"signature": signature_costs()}), flush=True)
    with tempfile.TemporaryDirectory() as directory:
        print(json.dumps({"in_process": in_process_request_costs(directory)}), flush=True)
        for row in webhook_throughput(args.seconds, args.rounds, directory):
            print(json.dumps({"webhook": row}), flush=True)
    for round_number in range(2):
        for provider in ("telnyx", "twilio"):
            print(json.dumps({"dispatch": dispatch_throughput(provider, args.rows)}), flush=True)


if __name__ == "__main__":
    main()
