"""Fuzz the REST API from its own OpenAPI document: no 500s, and every answer matches the document.

Runs in-process against the Flask app (WSGI), one Hypothesis run per operation and
generation mode. Hypothesis is derandomized and bounded, so CI sees the same cases
every run, in well under a minute. (The schemathesis pytest plugin's ``parametrize``
is not used: its lazy fixture loader fails on pytest 9 with "no attribute _nodeid".)
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, ignored_auth, negative_data_rejection,
                                               response_headers_conformance, response_schema_conformance,
                                               status_code_conformance)

from tests.conftest import ALICE

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OPERATIONS = ["POST /sms/schedule", "POST /v1/message/schedule", "GET /sms/scheduled", "GET /sms/scheduled/{id}",
              "DELETE /sms/scheduled/{id}"]  # schemathesis leaves out the document's own path

# positive_data_acceptance is left out on purpose: JSON Schema cannot say "in the future",
# "a real phone number" or "a known time zone", so schema-valid data is often rightly a 400.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection, ignored_auth]


@pytest.fixture
def api_schema(app_factory):
    # Rate limits are another test's subject; here a 429 would only hide the answer under test.
    app = app_factory(RUN_DISPATCHER=False, RATE_LIMIT_API="1000000/minute")
    client = app.test_client()
    for minutes in (5, 10):  # rows for the listing and the id operations to find
        client.post("/v1/message/schedule", json={"number": ALICE, "minutes": minutes, "message": "seed"},
                    headers=AUTH)
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def test_document_lists_every_operation(api_schema):
    labels = {result.ok().label for result in api_schema.get_all_operations()}
    assert labels == set(OPERATIONS)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
@pytest.mark.parametrize("label", OPERATIONS)
def test_api_matches_its_openapi_document(api_schema, label, mode):
    [operation] = [result.ok() for result in api_schema.get_all_operations() if result.ok().label == label]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=25, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        case.call_and_validate(headers=AUTH, checks=CHECKS)

    run()


def _operation(api_schema, label):
    [operation] = [result.ok() for result in api_schema.get_all_operations() if result.ok().label == label]
    return operation


def test_success_and_conflict_answers_match_the_document(api_schema):
    """Random data rarely makes a valid job; check every success shape (and the 409) explicitly."""
    def call(label, **kwargs):
        case = _operation(api_schema, label).Case(media_type="application/json" if "body" in kwargs else None,
                                                  **kwargs)
        return case.call_and_validate(headers=AUTH, checks=CHECKS)

    send_at = (datetime.now(timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    created = call("POST /sms/schedule", body={"to": ALICE, "message": "hi", "send_at": send_at},
                   headers={"Idempotency-Key": "conformance"})
    assert created.status_code == 201
    replayed = call("POST /sms/schedule", body={"to": ALICE, "message": "hi", "send_at": send_at},
                    headers={"Idempotency-Key": "conformance"})
    headers = {name.lower(): value for name, value in replayed.headers.items()}
    assert replayed.status_code == 201 and headers["idempotent-replayed"] == ["true"]
    assert call("POST /sms/schedule", body={"to": ALICE, "message": "hi", "when": "tomorrow 9am",
                                            "tz": "Europe/London"}).status_code == 201
    assert call("POST /v1/message/schedule", body={"number": ALICE, "minutes": 16,
                                                   "message": "Ahoy"}).status_code == 201
    job_id = created.json()["job_id"]
    listing = call("GET /sms/scheduled", query={"limit": 2})
    assert listing.status_code == 200 and len(listing.json()) == 2
    assert call("GET /sms/scheduled/{id}", path_parameters={"id": job_id}).status_code == 200
    assert call("DELETE /sms/scheduled/{id}", path_parameters={"id": job_id}).status_code == 200
    assert call("DELETE /sms/scheduled/{id}", path_parameters={"id": job_id}).status_code == 409
    assert call("GET /sms/scheduled/{id}", path_parameters={"id": job_id}).json()["status"] == "cancelled"
