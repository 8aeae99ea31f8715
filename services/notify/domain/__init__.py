"""Notify's domain: which notices an event causes, for whom, on which channel, and when. No nameko, HTTP or SQL.

* **Templates are data** (``data/templates.yaml``, overridable per street): per event type, a list of notices,
  each naming its recipients, category, whether it is mandatory or urgent, and a Chinese subject and body per
  channel (Jinja2). A template that reads a field its event does not define fails at load, naming itself.
  See :mod:`.templates`.
* **Preferences** per recipient: channels in order, opt-outs per category (mandatory notices ignore them),
  quiet hours (default 22:00–08:00 Asia/Shanghai; urgent notices ignore them); and the recipients' references and
  addresses, checked and masked. See :mod:`.recipients`.
* **Delivery policy**: attempts per channel with exponential backoff, then the next preferred channel, then
  give up; a per-recipient rate limit defers (never drops) what exceeds it. See :mod:`.delivery`.
* **The daily digest** of a unit's new, overdue and escalated assignments: :mod:`.digest`.
"""
