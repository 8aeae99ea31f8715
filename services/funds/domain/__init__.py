"""Funds' domain: pure rules, no nameko, HTTP or SQL, one module per subject.

:mod:`ledger` is the double-entry ledger itself and :mod:`chart` the books and their accounts; :mod:`foundation`
and :mod:`autonomy` hold the rules and commands of the charity foundation and of the autonomy funds. Requests are
read into these commands by the service's HTTP contract (:mod:`services.funds.models`).
"""
