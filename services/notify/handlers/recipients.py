"""A recipient's preferences, contact addresses (shown masked) and subscriptions to topics."""
from __future__ import annotations

from shared.errors import InvalidInput, NotFound
from services.notify.domain.recipients import (ChangeContacts, ChangePreferences, Preferences, mask_address,
                                               webhook_target_problem)
from services.notify.handlers.context import NotifyContext
from services.notify.persistence import NotifyUnitOfWork


def get_preferences(uow: NotifyUnitOfWork, ctx: NotifyContext, recipient: str) -> dict:
    with uow:
        preferences = uow.recipients.preferences(recipient, Preferences(quiet_hours=ctx.settings.quiet_hours))
    return {"recipient": recipient, **preferences.to_dict()}


def set_preferences(uow: NotifyUnitOfWork, ctx: NotifyContext, command: ChangePreferences) -> dict:
    preferences = command.preferences(ctx.settings.quiet_hours)
    with uow:
        uow.recipients.save_preferences(command.recipient, preferences, ctx.clock())
        uow.commit()
    return {"recipient": command.recipient, **preferences.to_dict()}


def get_contacts(uow: NotifyUnitOfWork, recipient: str) -> dict:
    with uow:
        found = uow.recipients.contacts(recipient)
    return {"recipient": recipient, "contacts": {c: mask_address(c, a) for c, a in sorted(found.items())}}


def set_contacts(uow: NotifyUnitOfWork, ctx: NotifyContext, command: ChangeContacts) -> dict:
    """Register (or, with None, remove) a recipient's addresses; the answer shows them masked."""
    webhook = command.addresses.get("webhook")
    if webhook:
        allowed = tuple((ctx.settings.channels.get("webhook") or {}).get("allow_private") or ())
        problem = webhook_target_problem(webhook, allowed)
        if problem:
            raise InvalidInput("contacts.webhook", f"网址不可用（须为 https，不得指向内部地址） / {problem}")
    with uow:
        uow.recipients.replace_contacts(command.recipient, dict(command.addresses), ctx.clock())
        uow.commit()
    return get_contacts(uow, command.recipient)


def subscribe(uow: NotifyUnitOfWork, ctx: NotifyContext, topic: str, recipient: str) -> tuple[int, dict]:
    with uow:
        created = uow.recipients.subscribe(topic, recipient, ctx.clock())
        uow.commit()
    return (201 if created else 200), {"topic": topic, "recipient": recipient}


def unsubscribe(uow: NotifyUnitOfWork, topic: str, recipient: str) -> dict:
    with uow:
        removed = uow.recipients.unsubscribe(topic, recipient)
        uow.commit()
    if not removed:
        raise NotFound(f"{recipient} is not subscribed to {topic}")
    return {"topic": topic, "recipient": recipient, "removed": True}
