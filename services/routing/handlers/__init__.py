"""Routing's use cases: an event, a request or a timer tick, and one unit of work each.

* :mod:`.cases` — a case arrives from intake: routed to a lead unit and its assisting units, or reopened as a
  warning case (预警工单).
* :mod:`.assignments` — what units do with their assignments: sign for, contact, report, transfer, return,
  arbitrate, extend.
* :mod:`.deadlines` — the deadline timer: reminders (催办) and escalations (督办), once each.
* :mod:`.reads` — the decision behind a case, a unit's worklist and its scores.
* :mod:`.erasure` — forgetting cases: those of a resident intake erased, and those past their retention.
"""
