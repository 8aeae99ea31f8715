"""Intake's and funds' metric labels stay bounded: which fund accounts are exported and under which labels, how a
transaction's postings are tallied, and which category/channel series intake creates at start-up."""
from datetime import datetime, timezone

from services.funds.domain.chart import area_chart, foundation_chart, special_fund_account
from services.funds.domain.ledger import AccountState, PostedTransfer, credit, debit
from services.funds import metrics as funds_metrics
from services.intake.catalog import Catalog, Matter
from services.intake import metrics as intake_metrics


def test_only_bank_unreserved_and_special_fund_accounts_are_exported():
    labels = funds_metrics.balance_labels
    assert labels("foundation:bank") == ("foundation", "bank")
    assert labels("foundation:unrestricted") == ("foundation", "unrestricted")
    assert labels("foundation:fund:art-edu") == ("foundation", "fund:art-edu")
    assert labels("area:shixin:bank") == ("area:shixin", "bank")
    assert labels("area:shixin:unrestricted") == ("area:shixin", "unrestricted")
    # Every account of the charts that grows with projects, or holds no fund, stays out.
    for code in ("foundation:receivables", "foundation:in-kind", "foundation:revenue:donation",
                 "foundation:expense:general", "foundation:expense:art-edu:shixin-2026-001",
                 "area:shixin:revenue:allocation", "area:shixin:budget:shixin-2026-001:1",
                 "area:shixin:expense:shixin-2026-001:1", "area:shixin", "area", "elsewhere:bank"):
        assert labels(code) is None, code
    # The charts the ledger opens: exactly bank and unrestricted of each, and the special fund.
    exported = [s.code for s in foundation_chart() + area_chart("shixin")
                + [special_fund_account("art-edu", "美术教育专项基金")] if labels(s.code)]
    assert exported == ["foundation:bank", "foundation:unrestricted", "area:shixin:bank",
                        "area:shixin:unrestricted", "foundation:fund:art-edu"]


def test_a_transaction_tallies_its_transfers_debits_and_last_figures():
    at = datetime(2026, 3, 10, tzinfo=timezone.utc)

    def posted(book, kind, legs):
        return PostedTransfer("t", book, 1, "k", kind, "", at, at, None, "", "", tuple(legs), ())

    states = {code: AccountState(code, side, None, True) for code, side in
              [("area:shixin:bank", "debit"), ("area:shixin:unrestricted", "credit")]}
    tally = funds_metrics.Tally()
    states["area:shixin:bank"].available = 500000
    tally.add([posted("area:shixin", "allocation", [debit("area:shixin:bank", 500000),
                                                    credit("area:shixin:revenue:allocation", 500000)])], states)
    states["area:shixin:bank"].available = 450000
    tally.add([posted("area:shixin", "expense", [debit("area:shixin:expense:p:1", 30000),
                                                 debit("area:shixin:expense:p:2", 20000),
                                                 credit("area:shixin:bank", 50000)]),
               posted("foundation", "donation", [debit("foundation:bank", 4902810),
                                                 credit("foundation:revenue:donation", 4902810)])], states)
    assert tally.postings == {("autonomy", "allocation"): [1, 500000], ("autonomy", "expense"): [1, 50000],
                              ("foundation", "donation"): [1, 4902810]}
    assert tally.available["area:shixin:bank"] == 450000  # the figure after the transaction's last posting


def test_book_types_and_primed_kinds_cover_what_the_handlers_post():
    assert funds_metrics.book_type("foundation") == "foundation"
    assert funds_metrics.book_type("area:shixin") == "autonomy"
    import inspect

    from services.funds.handlers import autonomy, disclosure, foundation, ledger
    source = "".join(inspect.getsource(module) for module in (ledger, foundation, autonomy, disclosure))
    primed = set().union(*funds_metrics.TRANSFER_KINDS.values())
    for kind in primed:
        assert f'"{kind}"' in source, kind


def test_intake_primes_the_channels_each_category_takes():
    def matter(code, category, channels):
        return Matter(code, code, category, "station", 1, channels=channels)

    catalog = Catalog({"property": "物业", "elderly": "养老", "empty": "空"}, {
        "repair": matter("repair", "property", ("phone", "counter")),
        "lift": matter("lift", "property", ("online",)),
        "card": matter("card", "elderly", ("counter",)),
    })
    assert intake_metrics.channels_by_category(catalog) == {
        "property": ("counter", "online", "phone"), "elderly": ("counter",), "empty": ()}
