"""Notify's HTTP contract: bodies and paths become the domain's commands, and each wrong field is named in the
problem, without its value."""
import pytest
from pydantic import ValidationError

from shared.problems import invalid_params
from services.notify.domain.recipients import STREET_QUIET_HOURS, QuietHours
from services.notify.models import ContactsBody, DeliveriesQuery, PreferencesBody, RecipientPath, SubscriptionPath


def named(model, value) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(value)
    params = invalid_params(raised.value)
    assert all("13800000000" not in p["reason"] for p in params), "a rejected value is echoed"
    return [p["name"] for p in params]


def test_preferences_become_a_command_and_quiet_hours_left_out_are_the_streets():
    command = PreferencesBody.model_validate({"channels": ["wechat", "sms"], "opt_out": ["hearing"],
                                             "quiet_hours": {"start": "21:30", "end": "07:00"}}).command("resident:1")
    street = QuietHours()
    assert command.preferences(street).to_dict() == {"channels": ["wechat", "sms"], "opt_out": ["hearing"],
                                                     "quiet_hours": {"start": "21:30", "end": "07:00"}}
    none = PreferencesBody.model_validate({"quiet_hours": None}).command("resident:1")
    assert none.preferences(street).quiet_hours is None
    left_out = PreferencesBody.model_validate({}).command("resident:1")
    assert left_out.quiet_hours is STREET_QUIET_HOURS and left_out.preferences(street).quiet_hours == street


@pytest.mark.parametrize("body, field", [
    ({"channels": ["fax"]}, "channels[0]"), ({"channels": "sms"}, "channels"),
    ({"channels": ["sms", "sms"]}, "channels"),
    ({"opt_out": [1]}, "opt_out[0]"), ({"opt_out": ["Hearing!"]}, "opt_out[0]"),
    ({"quiet_hours": {"start": "25:00", "end": "08:00"}}, "quiet_hours.start"),
    ({"quiet_hours": {"start": "22:00"}}, "quiet_hours.end"), ({"quiet_hours": "22-08"}, "quiet_hours"),
    ({"colour": "red"}, "colour"), ([], "(body)"),
])
def test_a_wrong_preference_is_named(body, field):
    assert named(PreferencesBody, body)[0] == field


def test_contacts_are_checked_per_channel_and_null_removes_one():
    command = ContactsBody.model_validate({"contacts": {"sms": " 13812345678 ", "email": None}}).command("unit:x")
    assert command.addresses == {"email": None, "sms": "13812345678"}


@pytest.mark.parametrize("contacts, field", [
    ({"sms": "12345"}, "contacts.sms"), ({"email": "no-at-sign"}, "contacts.email"),
    ({"webhook": "ftp://x"}, "contacts.webhook"), ({"wechat": "!"}, "contacts.wechat"),
    ({"file": "x"}, "contacts.file"),
    ({"email": "a\x00@example.org"}, "contacts.email"), ({"webhook": "https://x/\ud800"}, "contacts.webhook"),
    ({"email": "a@" + "b" * 300 + ".org"}, "contacts.email"), ({"sms": 13800000000}, "contacts.sms"),
    ({"sms": ["13800000000"]}, "contacts.sms"), ({}, "contacts"), ("13800000000", "contacts"),
])
def test_a_wrong_contact_is_named_and_not_echoed(contacts, field):
    assert named(ContactsBody, {"contacts": contacts})[0] == field


def test_paths_and_queries_name_their_segment():
    assert named(RecipientPath, {"recipient": "nobody"}) == ["recipient"]
    assert named(RecipientPath, {"recipient": "subscribers:unit:x"}) == ["recipient"]  # a template's, not a person
    assert named(RecipientPath, {"recipient": "unit:a\x00"}) == ["recipient"]
    assert named(SubscriptionPath, {"topic": "street:x", "recipient": "handler:h1"}) == ["topic"]
    assert named(DeliveriesQuery, {"case_id": "\x00"}) == ["case_id"]
    assert named(DeliveriesQuery, {"status": "lost"}) == ["status"]
    assert DeliveriesQuery.model_validate({"case_id": "", "recipient": ""}) == DeliveriesQuery()
