"""Intake's use cases. Each takes a command or an event and a unit of work; none knows about nameko or HTTP.

* :mod:`.cases` — a case's life at intake: submitted, a worker's decisions, the resident's callback, closing;
  and what routing says happened to it.
* :mod:`.appointments` — booking a slot at a station (网上预约), cancelling, no-shows, reminders.
* :mod:`.visits` — visits at a station (一口受理, 只跑一次) and video sessions (可视化咨询).
* :mod:`.reads` — cases, the matter catalog, and the cases-by-status gauge.
* :mod:`.residents` — a resident's erasure on request (PIPL 删除权): pseudonymised, their cases redacted.
* :mod:`.retention` — the retention pass: old cases redacted, inactive residents pseudonymised, old bookings
  deleted.
"""
