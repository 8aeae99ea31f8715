"""Routing's domain: the 1+3+N directory, explainable rules, time limits and the assignment lifecycle.

Pure: no nameko, HTTP or SQL. Times are timezone-aware UTC; working-day arithmetic is in
:mod:`shared.workdays` (Asia/Shanghai, statutory holidays and adjusted working weekends).

* :mod:`.directory` — the street's units, areas, rules and policy, loaded and checked from its directory file, and
  routing a case to a lead unit and its assisting units with the explanation; time limits and their units.
* :mod:`.assignments` — the routed case and its assignments: who acts for a unit, sign-for, first contact, report,
  transfer, return (退单), extension, and when the case is resolved.
* :mod:`.deadlines` — the time limits of a case, reminders (催办) and escalation (督办) once they pass.
* :mod:`.scores` — a unit's 三率 over a period.
* :mod:`.erasure` — what routing forgets of a case whose resident was erased or whose retention is over.
"""
