"""Notify's use cases.

Two halves, as the outbox pattern wants them:

* **deciding and recording** (:mod:`.recording`, :func:`~.recording.record_events`), in the event handler's
  transaction: one delivery row per recipient with its channel plan and status (queued, or deferred for quiet
  hours and the rate limit); the inbox makes a redelivered event a no-op, and the row's unique key (event,
  recipient, channel) keeps a recipient from getting two messages about one event; the daily digests too;
* **sending** (:mod:`.sending`, :func:`~.sending.dispatch_due`): claim due rows (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL, plus a lease so no transaction stays open while a channel talks to the network), send, and record
  the outcome together with ``notification.sent`` / ``notification.failed`` in one unit of work.

Besides: :mod:`.deliveries` (reading deliveries, sending one again, the dead letters), :mod:`.recipients`
(preferences, contacts, subscriptions), :mod:`.privacy` (forgetting an erased resident; the retention of
messages' wording) and :mod:`.context` (what every use case needs besides a unit of work).
"""
