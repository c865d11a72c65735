"""Health, readiness, Prometheus metrics and request ids."""

from __future__ import annotations

import json
import logging

from tests.conftest import ALICE, nth_message_to, post_signed, send_sms, wait_until
from tests.signing import message_received


def test_healthz_and_readyz(client, app):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    body = ready.get_json()
    assert ready.status_code == 200
    assert body["database"] is True and body["dispatcher"] is True
    assert body["status"] == "ok"


def test_readyz_says_when_the_telnyx_sdk_has_loaded(client, app_factory):
    # The SDK loads in a background thread; readiness reports it without waiting for it.
    assert wait_until(lambda: client.get("/readyz").get_json()["transport_ready"] is True)
    console = app_factory(TELNYX_API_KEY=None, TELNYX_PHONE_NUMBER=None).test_client().get("/readyz").get_json()
    assert console["transport_ready"] is True  # console delivery needs nothing loaded


def test_readyz_is_unavailable_when_the_database_is_gone(app_factory):
    from tests.databases import drop_database, postgres_database

    with postgres_database() as url:
        app = app_factory(DATABASE_URL=url, RUN_DISPATCHER=False)
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        app.extensions["bot"].engine.dispose()
        drop_database(url)
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["database"] is False
        assert client.get("/healthz").status_code == 200  # the process itself is up


def test_metrics_count_inbound_and_sends(client, signer, fake_telnyx):
    send_sms(client, signer, "remind me in 1 second: stretch")
    send_sms(client, signer, "list")
    nth_message_to(fake_telnyx, ALICE, 3)
    settled = ("bot_telnyx_request_seconds_count 3.0", 'bot_messages_sent_total{kind="reply"} 2.0',
               "bot_dispatch_lateness_seconds_count 1.0")
    assert wait_until(lambda: all(line in client.get("/metrics").get_data(as_text=True) for line in settled))
    text = client.get("/metrics").get_data(as_text=True)
    assert 'bot_inbound_messages_total{command="remind",outcome="handled"} 1.0' in text
    assert 'bot_inbound_messages_total{command="list",outcome="handled"} 1.0' in text
    assert 'bot_reminders_created_total{source="sms"} 1.0' in text
    assert "bot_telnyx_request_seconds_count 3.0" in text
    assert "bot_pending_reminders" in text
    assert "bot_inbox_backlog 0.0" in text  # both messages handled: nothing waits in the inbox
    assert 'bot_messages_sent_total{kind="reply"} 2.0' in text
    assert 'bot_messages_sent_total{kind="reminder"} 1.0' in text
    assert "bot_dispatch_lateness_seconds_count 1.0" in text
    assert "bot_parser_errors_total 0.0" in text  # exposed from the start, so an alert can watch it


def test_request_id_is_echoed_and_logged_as_json(app_factory, signer, capsys):
    from bot.logs import JsonFormatter

    app = app_factory(LOG_FORMAT="json")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("+*******0147",), None)
    record.request_id = "abc123"
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "abc123" and line["message"] == "hello +*******0147"
    response = post_signed(app.test_client(), signer, message_received("list", ALICE))
    assert len(response.headers["X-Request-Id"]) == 32
    echoed = app.test_client().get("/healthz", headers={"X-Request-Id": "req-42"})
    assert echoed.headers["X-Request-Id"] == "req-42"
    refused = app.test_client().get("/healthz", headers={"X-Request-Id": "<script>" * 20})
    assert len(refused.headers["X-Request-Id"]) == 32  # an unsafe id is replaced, not echoed


def test_text_log_lines_carry_the_request_id():
    from bot.logs import TextFormatter

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "inbound from %s", ("+*******0147",), None)
    assert " rid=-: inbound" in TextFormatter().format(record)  # outside a request
    record.request_id = "req-42"
    assert " rid=req-42: inbound from +*******0147" in TextFormatter().format(record)


def test_api_creations_are_counted_once_even_when_replayed(client):
    headers = {"Authorization": "Bearer test-token-0123456789", "Idempotency-Key": "order-1"}
    body = {"to": "+12125550147", "message": "hi", "when": "in 2 hours"}
    assert client.post("/sms/schedule", json=body, headers=headers).status_code == 201
    assert client.post("/sms/schedule", json=body, headers=headers).status_code == 201
    assert 'bot_reminders_created_total{source="api"} 1.0' in client.get("/metrics").get_data(as_text=True)
