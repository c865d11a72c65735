"""Choosing the provider: SMS_PROVIDER, its default from the credentials set, and Twilio's settings checked at start-up."""

from __future__ import annotations

import pytest

from bot.config_check import settings_or_exit
from bot.delivery.transport import ConsoleTransport, TelnyxTransport
from bot.delivery.twilio_transport import TwilioTransport
from bot.service import make_transport
from bot.settings import SettingsError, load_settings
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, MESSAGING_SERVICE_SID

TELNYX = {"TELNYX_API_KEY": "KEY_TEST", "TELNYX_PHONE_NUMBER": "+13125550100"}
TWILIO = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_PHONE_NUMBER": "+13125550111"}


@pytest.mark.parametrize("given, provider", [
    ({}, "console"),
    (TELNYX, "telnyx"),
    (TWILIO, "twilio"),
    ({**TELNYX, **TWILIO, "SMS_PROVIDER": "twilio"}, "twilio"),
    ({**TELNYX, **TWILIO, "SMS_PROVIDER": "Telnyx"}, "telnyx"),
    ({**TELNYX, "SMS_PROVIDER": "console"}, "console"),
], ids=["nothing set", "telnyx credentials", "twilio credentials", "both, twilio chosen", "both, telnyx chosen",
        "console chosen over credentials"])
def test_the_provider_is_the_one_chosen_or_the_one_with_credentials(given, provider):
    settings = load_settings(overrides=given)
    assert settings.provider == provider
    assert (settings.telnyx_enabled, settings.twilio_enabled) == (provider == "telnyx", provider == "twilio")


def test_the_transport_follows_the_provider():
    assert isinstance(make_transport(load_settings(overrides=TELNYX)), TelnyxTransport)
    assert isinstance(make_transport(load_settings(overrides={**TELNYX, "SMS_PROVIDER": "console"})), ConsoleTransport)
    twilio = make_transport(load_settings(overrides={**TWILIO, "PUBLIC_BASE_URL": "https://abc.ngrok-free.app/",
                                                     "TWILIO_BASE_URL": "http://127.0.0.1:9"}))
    assert isinstance(twilio, TwilioTransport)
    assert twilio.status_callback == "https://abc.ngrok-free.app/webhooks/twilio/status"
    assert load_settings(overrides=TWILIO).from_number == "+13125550111"


@pytest.mark.parametrize("given, message", [
    ({**TELNYX, **TWILIO}, "SMS_PROVIDER is not set but both Telnyx and Twilio credentials are"),
    ({"SMS_PROVIDER": "twilio"}, "TWILIO_ACCOUNT_SID is not set but SMS_PROVIDER=twilio is"),
    ({**TWILIO, "SMS_PROVIDER": "telnyx"}, "TELNYX_API_KEY is not set but SMS_PROVIDER=telnyx is"),
    ({"SMS_PROVIDER": "sinch"}, "SMS_PROVIDER='sinch' is not valid; expected one of telnyx, twilio, console"),
    ({"TWILIO_ACCOUNT_SID": ACCOUNT_SID}, "TWILIO_AUTH_TOKEN is not set but TWILIO_ACCOUNT_SID is"),
    ({"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN},
     "TWILIO_PHONE_NUMBER is not set, nor TWILIO_MESSAGING_SERVICE_SID"),
    ({"TWILIO_MESSAGING_SERVICE_SID": MESSAGING_SERVICE_SID},
     "TWILIO_ACCOUNT_SID is not set but TWILIO_MESSAGING_SERVICE_SID is"),
    ({**TWILIO, "TWILIO_ACCOUNT_SID": "SK" + "0" * 32}, "TWILIO_ACCOUNT_SID='SK00000000000000000000000000000000' "
     "does not start with AC"),
    ({**TWILIO, "TWILIO_MESSAGING_SERVICE_SID": "MG123"}, "TWILIO_MESSAGING_SERVICE_SID='MG123' is not 32 hex digits"),
    ({**TWILIO, "TWILIO_PHONE_NUMBER": "312-555-0111"}, "did you mean +13125550111?"),
    ({**TWILIO, "TWILIO_BASE_URL": "http://127.0.0.1:9/2010-04-01"}, "TWILIO_BASE_URL='http://127.0.0.1:9/2010-04-01' "
     "has a path"),
], ids=["both without a choice", "twilio chosen without credentials", "telnyx chosen without credentials",
        "unknown provider", "sid without token", "no sender", "service without credentials", "an API key SID",
        "short service sid", "national number", "base url with a path"])
def test_settings_that_cannot_send_are_refused_naming_the_variable(given, message):
    with pytest.raises(SettingsError) as raised:
        load_settings(overrides=given)
    assert message in str(raised.value)


def test_the_auth_token_is_never_shown():
    with pytest.raises(SettingsError) as raised:
        load_settings(overrides={"TWILIO_AUTH_TOKEN": AUTH_TOKEN})
    assert AUTH_TOKEN not in str(raised.value)


def test_a_messaging_service_alone_is_a_sender():
    settings = load_settings(overrides={**TWILIO, "TWILIO_PHONE_NUMBER": None,
                                        "TWILIO_MESSAGING_SERVICE_SID": MESSAGING_SERVICE_SID})
    transport = make_transport(settings)
    assert (transport.phone_number, transport.messaging_service_sid) == (None, MESSAGING_SERVICE_SID)


def test_start_up_stops_with_one_line_when_both_providers_are_set(capsys):
    with pytest.raises(SystemExit) as raised:
        settings_or_exit({**TELNYX, **TWILIO}, reachable=False)
    assert raised.value.code == 2
    assert capsys.readouterr().err == ("configuration error: SMS_PROVIDER is not set but both Telnyx and Twilio "
                                       "credentials are; expected telnyx or twilio, to say which one sends "
                                       "(console: neither)\n")
