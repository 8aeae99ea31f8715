"""Funds' domain: pure rules, no nameko, HTTP or SQL, one module per subject.

:mod:`ledger` is the double-entry ledger itself, :mod:`chart` the books and their accounts, :mod:`fields` the
request fields the commands share; :mod:`foundation` and :mod:`autonomy` hold the rules of the charity foundation
and of the autonomy funds.
"""
