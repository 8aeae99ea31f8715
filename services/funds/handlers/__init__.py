"""Funds' use cases, each a command or a query carried out through a unit of work, one module per subject:
:mod:`ledger` (the core the others build on), :mod:`foundation`, :mod:`autonomy` and :mod:`disclosure`."""
