"""What tests need to know of each SMS provider: the settings that send through its fake, and its refusals.

Imported by tests marked ``@both_providers`` (tests/conftest.py) and by tests/dispatch_worker.py,
a process of its own that must not import the conftest.
"""

from __future__ import annotations

from typing import Any

from tests.fake_telnyx import Reply
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, error_reply

BOT_NUMBER = "+13125550100"

# The status a provider answers when it takes a message.
ACCEPTED = {"telnyx": 200, "twilio": 201}

# A refusal of each kind as each provider answers it, and the code the bot's stored error then names.
REFUSALS = {
    ("telnyx", "invalid_number"): (Reply(400, body={"errors": [{"code": "40310", "title": "Invalid 'to' address"}]}),
                                   "40310"),
    ("twilio", "invalid_number"): (error_reply(21211), "21211"),
    ("telnyx", "opted_out"): (Reply(400, body={"errors": [{"code": "40300", "title": "Blocked due to STOP message"}]}),
                              "40300"),
    ("twilio", "opted_out"): (error_reply(21610), "21610"),
}


def sending_settings(provider: str, base_url: str) -> dict[str, Any]:
    """Return the settings that send through ``provider``'s fake at ``base_url``."""
    if provider == "twilio":
        return {"SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "TWILIO_PHONE_NUMBER": BOT_NUMBER, "TWILIO_BASE_URL": base_url}
    return {"TELNYX_API_KEY": "KEY_TEST_0123", "TELNYX_PHONE_NUMBER": BOT_NUMBER, "TELNYX_BASE_URL": base_url}
