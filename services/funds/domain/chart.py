"""The chart of accounts: the foundation's book, each residential area's autonomy-fund book, and the accounts
added to them as special funds, grants and project budgets come."""
from __future__ import annotations

from services.funds.domain.ledger import AccountSpec

FOUNDATION_BOOK = "foundation"
REVENUE_KINDS = ("donation", "auction", "market", "allocation")


def area_book(area: str) -> str:
    return f"area:{area}"


def foundation_chart() -> list[AccountSpec]:
    """The community foundation's fixed accounts; special funds and grant expenses are added as they come."""
    b = FOUNDATION_BOOK
    unrestricted = f"{b}:unrestricted"
    return [
        AccountSpec(f"{b}:bank", b, "银行存款 bank", "asset", "bank", non_negative=True),
        AccountSpec(f"{b}:receivables", b, "应收款 receivables", "asset", "receivables"),
        AccountSpec(f"{b}:in-kind", b, "实物资产 in-kind assets", "asset", "in_kind"),
        AccountSpec(unrestricted, b, "非限定性净资产 unrestricted net assets", "net_assets", "unrestricted",
                    non_negative=True),
        AccountSpec(f"{b}:revenue:donation", b, "捐赠收入 donations", "revenue", "donation", unrestricted),
        AccountSpec(f"{b}:revenue:auction", b, "慈善拍卖收入 charity auction", "revenue", "auction", unrestricted),
        AccountSpec(f"{b}:revenue:market", b, "公益市集收入 charity market", "revenue", "market", unrestricted),
        AccountSpec(f"{b}:expense:general", b, "一般支出 general expenses", "expense", "project", unrestricted),
    ]


def special_fund_account(fund_code: str, name: str) -> AccountSpec:
    return AccountSpec(f"{FOUNDATION_BOOK}:fund:{fund_code}", FOUNDATION_BOOK, f"限定性净资产 {name}",
                       "net_assets", "restricted", non_negative=True)


def grant_expense_account(fund_code: str, project: str) -> AccountSpec:
    return AccountSpec(f"{FOUNDATION_BOOK}:expense:{fund_code}:{project}", FOUNDATION_BOOK,
                       f"资助支出 grant to {project}", "expense", "project",
                       parent=f"{FOUNDATION_BOOK}:fund:{fund_code}")


def area_chart(area: str) -> list[AccountSpec]:
    """A residential area's autonomy fund (自治金): its fixed accounts; project budgets are added per project."""
    b = area_book(area)
    unrestricted = f"{b}:unrestricted"
    return [
        AccountSpec(f"{b}:bank", b, "自治金存款 bank", "asset", "bank", non_negative=True),
        AccountSpec(unrestricted, b, "可用自治金 unreserved fund", "net_assets", "unrestricted",
                    non_negative=True),
        AccountSpec(f"{b}:revenue:allocation", b, "街道拨款 yearly allocation", "revenue", "allocation",
                    unrestricted),
        AccountSpec(f"{b}:revenue:donation", b, "合作方资助 partner grants", "revenue", "donation", unrestricted),
    ]


def budget_line_accounts(area: str, project: str, line_no: int, name: str) -> list[AccountSpec]:
    """A budget line is a restricted net-asset account; its spending goes through its own expense account."""
    b = area_book(area)
    budget = f"{b}:budget:{project}:{line_no}"
    return [
        AccountSpec(budget, b, f"项目预算 {project} #{line_no} {name}", "net_assets", "budget", non_negative=True),
        AccountSpec(f"{b}:expense:{project}:{line_no}", b, f"项目支出 {project} #{line_no} {name}", "expense",
                    "project", parent=budget),
    ]
