"""A recipient's preferences, contact addresses (shown masked) and subscriptions to topics."""
from __future__ import annotations

from shared.errors import InvalidInput, NotFound
from services.notify.domain.recipients import (Preferences, check_contact, check_recipient, check_topic, mask_address,
                                               parse_preferences)
from services.notify.handlers.context import NotifyContext
from services.notify.persistence import NotifyUnitOfWork


def get_preferences(uow: NotifyUnitOfWork, ctx: NotifyContext, recipient: str) -> dict:
    check_recipient(recipient)
    with uow:
        preferences = uow.recipients.preferences(recipient, Preferences(quiet_hours=ctx.settings.quiet_hours))
    return {"recipient": recipient, **preferences.to_dict()}


def set_preferences(uow: NotifyUnitOfWork, ctx: NotifyContext, recipient: str, body: dict) -> dict:
    check_recipient(recipient)
    preferences = parse_preferences(body, ctx.settings.quiet_hours)
    with uow:
        uow.recipients.save_preferences(recipient, preferences, ctx.clock())
        uow.commit()
    return {"recipient": recipient, **preferences.to_dict()}


def get_contacts(uow: NotifyUnitOfWork, recipient: str) -> dict:
    check_recipient(recipient)
    with uow:
        found = uow.recipients.contacts(recipient)
    return {"recipient": recipient, "contacts": {c: mask_address(c, a) for c, a in sorted(found.items())}}


def set_contacts(uow: NotifyUnitOfWork, ctx: NotifyContext, recipient: str, body: dict) -> dict:
    """Register (or, with null, remove) a recipient's addresses; the answer shows them masked."""
    check_recipient(recipient)
    raw = body.get("contacts")
    if not isinstance(raw, dict) or not raw:
        raise InvalidInput("contacts", "must map channels (email, sms, wechat, webhook) to addresses")
    addresses = {channel: None if address is None else check_contact(channel, address)
                 for channel, address in raw.items()}
    with uow:
        uow.recipients.replace_contacts(recipient, addresses, ctx.clock())
        uow.commit()
    return get_contacts(uow, recipient)


def subscribe(uow: NotifyUnitOfWork, ctx: NotifyContext, topic: str, recipient: str) -> tuple[int, dict]:
    check_topic(topic)
    check_recipient(recipient)
    with uow:
        created = uow.recipients.subscribe(topic, recipient, ctx.clock())
        uow.commit()
    return (201 if created else 200), {"topic": topic, "recipient": recipient}


def unsubscribe(uow: NotifyUnitOfWork, topic: str, recipient: str) -> dict:
    check_topic(topic)
    with uow:
        removed = uow.recipients.unsubscribe(topic, recipient)
        uow.commit()
    if not removed:
        raise NotFound(f"{recipient} is not subscribed to {topic}")
    return {"topic": topic, "recipient": recipient, "removed": True}
