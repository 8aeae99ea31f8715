"""Autonomy funds' use cases (自治金): the street's yearly allocation to an area, and a project's way through the
three meetings (三会制度) — proposal, hearing, coordination, expenses, co-funding, evaluation, closing."""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from shared.errors import Conflict, InvalidInput, NotFound
from shared.money import format_fen
from services.funds import events
from services.funds import persistence as p
from services.funds.domain.autonomy import (
    Allocation, BudgetLine, Cofunding, Coordination, Evaluation, Hearing, Project, ProposeProject, RecordExpense,
)
from services.funds.domain.chart import FOUNDATION_BOOK, area_book, budget_line_accounts, grant_expense_account
from services.funds.domain.foundation import check_grant_purpose
from services.funds.domain.ledger import TransferDraft, credit, debit
from services.funds.repositories import FundsUnitOfWork
from services.funds.handlers.foundation import special_fund
from services.funds.handlers.ledger import ensure_book, post, request_of, run_once, shanghai


def allocate(area: str, allocation: Allocation, key: str, uow: FundsUnitOfWork) -> tuple[int, dict]:
    """The street's yearly allocation to an area's autonomy fund."""
    year, amount = allocation.year, allocation.amount
    book = area_book(area)
    ensure_book(uow, book)

    def perform(now):
        if uow.records.one(p.allocations, (p.allocations.c.area == area) & (p.allocations.c.year == year)):
            raise Conflict(f"{area} already has its {year} allocation")
        [transfer] = post(uow, [TransferDraft(book, key, "allocation", f"{year} autonomy fund allocation", (
            debit(f"{book}:bank", amount), credit(f"{book}:revenue:allocation", amount)),
            allocation.allocated_at)], now)
        allocated_at = transfer.occurred_at
        uow.records.insert(p.allocations, area=area, year=year, amount=amount, transfer_id=transfer.id,
                           allocated_at=allocated_at)
        return {"area": area, "year": year, "amount": format_fen(amount), "transfer_id": transfer.id}

    return run_once(uow, key=key, kind="allocation", request=request_of(allocation, area=area), books=[book],
                    perform=perform)


def propose_project(cmd: ProposeProject, key: str | None, uow: FundsUnitOfWork) -> tuple[int, dict]:
    book = area_book(cmd.area)
    ensure_book(uow, book)

    def perform(now):
        count = uow.records.scalar(sa.select(sa.func.count()).select_from(p.projects).where(
            p.projects.c.area == cmd.area, p.projects.c.year == cmd.year))
        project_id = f"{cmd.area}-{cmd.year}-{count + 1:03d}"  # numbered under the book lock
        uow.records.insert(p.projects, id=project_id, area=cmd.area, year=cmd.year, title=cmd.title,
                           description=cmd.description, team_name=cmd.team_name, lead=cmd.lead,
                           members=list(cmd.members), status="proposed", created_at=now, updated_at=now)
        for line in cmd.budget:
            budget, expense = budget_line_accounts(cmd.area, project_id, line.line_no, line.name)
            uow.records.insert(p.budget_lines, project_id=project_id, line_no=line.line_no, name=line.name,
                               amount=line.amount, account_code=budget.code, expense_account_code=expense.code)
        return {"id": project_id, "status": "proposed", "budget_total": format_fen(cmd.total)}

    return run_once(uow, key=key, kind="project", request=request_of(cmd), books=[book], perform=perform)


def _project(uow, project_id: str) -> tuple[Project, dict]:
    row = uow.records.one(p.projects, p.projects.c.id == project_id, lock=True)
    if row is None:
        raise NotFound(f"project {project_id} does not exist")
    return Project(row["id"], row["area"], row["year"], row["title"], row["status"]), row


def _lines(uow, project_id: str) -> list[dict]:
    return uow.records.all(p.budget_lines, p.budget_lines.c.project_id == project_id, p.budget_lines.c.line_no)


def _project_book(uow, project_id: str) -> str:
    with uow:
        row = uow.records.one(p.projects, p.projects.c.id == project_id)
    if row is None:
        raise NotFound(f"project {project_id} does not exist")
    return area_book(row["area"])


def hold_hearing(project_id: str, hearing: Hearing, key: str, uow: FundsUnitOfWork):
    """事前听证: approval reserves the whole budget from the area's fund (refused if the fund lacks it)."""
    book = _project_book(uow, project_id)

    def perform(now):
        project, row = _project(uow, project_id)
        project.move_to("approved" if hearing.decision == "approve" else "rejected")
        details = {"votes": {"for": hearing.votes_for, "against": hearing.votes_against, "abstain": hearing.abstain},
                   "minutes": hearing.minutes, "decision": hearing.decision}
        uow.records.insert(p.meetings, project_id=project_id, kind="hearing", held_on=hearing.held_on,
                           attendees=list(hearing.attendees), details=details, recorded_at=now)
        transfer_id = None
        lines = _lines(uow, project_id)
        if project.status == "approved":
            specs = [s for line in lines for s in
                     budget_line_accounts(project.area, project_id, line["line_no"], line["name"])]
            total = sum(line["amount"] for line in lines)
            legs = (debit(f"{book}:unrestricted", total),
                    *(credit(line["account_code"], line["amount"]) for line in lines))
            [transfer] = post(uow, [TransferDraft(book, key, "budget-reservation",
                                                  f"reserve budget of {project_id} {project.title}"[:300],
                                                  legs, None)], now, specs)
            transfer_id = transfer.id
            budget = [BudgetLine(line["line_no"], line["name"], line["amount"]) for line in lines]
            uow.emit(events.project_approved(project, row["team_name"], len(row["members"]), budget, hearing, now,
                                             transfer_id))
        uow.records.update(p.projects, p.projects.c.id == project_id, status=project.status, updated_at=now)
        return {"id": project_id, "status": project.status, "transfer_id": transfer_id}

    return run_once(uow, key=key, kind="hearing", request=request_of(hearing, project_id=project_id), books=[book],
                    perform=perform)


def hold_coordination(project_id: str, meeting: Coordination, key: str | None, uow: FundsUnitOfWork):
    """事中协调: recorded while the project is being carried out."""
    def perform(now):
        project, _ = _project(uow, project_id)
        project.require("approved", doing="a mid-coordination meeting")
        uow.records.insert(p.meetings, project_id=project_id, kind="coordination", held_on=meeting.held_on,
                           attendees=list(meeting.attendees), details={"minutes": meeting.minutes}, recorded_at=now)
        return {"id": project_id, "status": project.status, "meeting": "coordination",
                "held_on": meeting.held_on.isoformat()}

    return run_once(uow, key=key, kind="coordination", request=request_of(meeting, project_id=project_id), books=[],
                    perform=perform)


def record_expense(project_id: str, cmd: RecordExpense, key: str, uow: FundsUnitOfWork):
    """Spend against a budget line; the line's available budget and the bank can never go below zero."""
    book = _project_book(uow, project_id)

    def perform(now):
        project, _ = _project(uow, project_id)
        project.require("approved", doing="spending")
        line = uow.records.one(p.budget_lines, (p.budget_lines.c.project_id == project_id)
                               & (p.budget_lines.c.line_no == cmd.line_no))
        if line is None:
            raise InvalidInput("line", f"project {project_id} has no budget line {cmd.line_no}")
        [transfer] = post(uow, [TransferDraft(
            book, key, "expense", f"{project_id} #{cmd.line_no} to {cmd.payee} ({cmd.receipt_ref})"[:300],
            (debit(line["expense_account_code"], cmd.amount), credit(f"{book}:bank", cmd.amount)),
            cmd.spent_at)], now)
        spent_at = transfer.occurred_at
        expense_id = str(uuid.uuid4())
        uow.records.insert(p.expenses, id=expense_id, project_id=project_id, line_no=cmd.line_no, amount=cmd.amount,
                           payee=cmd.payee, receipt_ref=cmd.receipt_ref, description=cmd.description,
                           transfer_id=transfer.id, spent_at=spent_at)
        uow.emit(events.expense_posted(expense_id, book, cmd.amount, cmd.payee, spent_at, transfer.id,
                                       project_id=project_id, line=cmd.line_no, receipt_ref=cmd.receipt_ref))
        available = uow.ledger.balance(line["account_code"])["available"]
        return {"id": expense_id, "project_id": project_id, "line": cmd.line_no, "amount": format_fen(cmd.amount),
                "line_available": format_fen(available), "transfer_id": transfer.id}

    return run_once(uow, key=key, kind="expense", request=request_of(cmd, project_id=project_id), books=[book],
                    perform=perform)


def hold_evaluation(project_id: str, evaluation: Evaluation, key: str | None, uow: FundsUnitOfWork):
    """事后评议: scores, resident satisfaction and findings; the project can then be closed."""
    def perform(now):
        project, _ = _project(uow, project_id)
        project.move_to("evaluated")
        uow.records.insert(p.meetings, project_id=project_id, kind="evaluation", held_on=evaluation.held_on,
                           attendees=list(evaluation.attendees),
                           details={"scores": evaluation.scores, "satisfaction": evaluation.satisfaction,
                                    "findings": evaluation.findings}, recorded_at=now)
        uow.records.update(p.projects, p.projects.c.id == project_id, status=project.status, updated_at=now)
        return {"id": project_id, "status": project.status}

    return run_once(uow, key=key, kind="evaluation", request=request_of(evaluation, project_id=project_id),
                    books=[], perform=perform)


def close_project(project_id: str, key: str, uow: FundsUnitOfWork):
    """Close an evaluated project: what is left on its budget lines goes back to the area's fund."""
    book = _project_book(uow, project_id)

    def perform(now):
        project, _ = _project(uow, project_id)
        project.move_to("closed")
        lines = _lines(uow, project_id)
        remaining = {line["account_code"]: uow.ledger.balance(line["account_code"])["available"] for line in lines}
        released = sum(remaining.values())
        transfer_id = None
        if released:
            legs = (*(debit(code, fen) for code, fen in remaining.items() if fen), credit(f"{book}:unrestricted",
                                                                                          released))
            [transfer] = post(uow, [TransferDraft(book, key, "budget-release",
                                                  f"release unspent budget of {project_id}", legs, None)], now)
            transfer_id = transfer.id
        spent = project_spent(uow, project_id)
        uow.records.update(p.projects, p.projects.c.id == project_id, status="closed", released=released,
                           updated_at=now)
        evaluation = uow.records.one(p.meetings, (p.meetings.c.project_id == project_id)
                                     & (p.meetings.c.kind == "evaluation"))
        uow.emit(events.project_closed(project, _project_budget(uow, project_id), spent, released,
                                       evaluation["details"]["satisfaction"], now, transfer_id))
        return {"id": project_id, "status": "closed", "spent": format_fen(spent), "released": format_fen(released),
                "transfer_id": transfer_id}

    return run_once(uow, key=key, kind="close", request=request_of(project_id=project_id), books=[book],
                    perform=perform)


def project_spent(uow, project_id: str) -> int:
    return int(uow.records.scalar(sa.select(sa.func.coalesce(sa.func.sum(p.expenses.c.amount), 0))
                                  .where(p.expenses.c.project_id == project_id)))


def _project_budget(uow, project_id: str) -> int:
    """The budget as reserved at approval plus co-funding received."""
    planned = sum(line["amount"] for line in _lines(uow, project_id))
    cofunded = uow.records.scalar(sa.select(sa.func.coalesce(sa.func.sum(p.cofundings.c.amount), 0))
                                  .where(p.cofundings.c.project_id == project_id))
    return planned + int(cofunded)


def cofund_project(project_id: str, cofunding: Cofunding, key: str, uow: FundsUnitOfWork):
    """A partner (or the foundation, from a special fund or unrestricted) adds money to a project's budget line.
    The foundation's grant and the area's receipt are posted together, one in each book."""
    partner, amount, line_no = cofunding.partner, cofunding.amount, cofunding.line_no
    from_foundation, fund_code, purpose = cofunding.from_foundation, cofunding.fund_code, cofunding.purpose
    project_book = _project_book(uow, project_id)
    if from_foundation:
        ensure_book(uow, FOUNDATION_BOOK)
    books = [project_book] + ([FOUNDATION_BOOK] if from_foundation else [])

    def perform(now):
        project, _ = _project(uow, project_id)
        project.require("proposed", "approved", doing="co-funding")
        line = uow.records.one(p.budget_lines, (p.budget_lines.c.project_id == project_id)
                               & (p.budget_lines.c.line_no == line_no))
        if line is None:
            raise InvalidInput("line", f"project {project_id} has no budget line {line_no}")
        specs = budget_line_accounts(project.area, project_id, line_no, line["name"])
        funded_at = cofunding.funded_at
        drafts = [TransferDraft(project_book, f"{key}#area", "cofunding",
                                f"{partner} co-funds {project_id} #{line_no}"[:300], (
                                      debit(f"{project_book}:bank", amount),
                                      credit(f"{project_book}:revenue:donation", amount),
                                      debit(f"{project_book}:unrestricted", amount),
                                      credit(line["account_code"], amount)), funded_at)]
        if from_foundation:
            b = FOUNDATION_BOOK
            if fund_code:
                check_grant_purpose(special_fund(uow, fund_code)["purpose"], purpose)
                specs.append(grant_expense_account(fund_code, project_id))
                expense = specs[-1].code
            else:
                expense = f"{b}:expense:general"
            drafts.append(TransferDraft(b, f"{key}#foundation", "grant", f"grant to {project_id} {project.title}"[:300],
                                        (debit(expense, amount), credit(f"{b}:bank", amount)), funded_at))
        posted = post(uow, drafts, now, specs)
        funded_at = posted[0].occurred_at
        cofunding_id = str(uuid.uuid4())
        uow.records.insert(p.cofundings, id=cofunding_id, project_id=project_id, partner=partner, fund_code=fund_code,
                           line_no=line_no, amount=amount, area_transfer_id=posted[0].id,
                           foundation_transfer_id=posted[1].id if from_foundation else None, funded_at=funded_at)
        if from_foundation:
            if fund_code:
                uow.records.insert(p.grants, id=cofunding_id, fund_code=fund_code, purpose=purpose,
                                   recipient=f"{project_id} {project.title}"[:100], project_id=project_id,
                                   amount=amount, transfer_id=posted[1].id, granted_at=funded_at)
            uow.emit(events.expense_posted(cofunding_id, FOUNDATION_BOOK, amount, f"{project.area} {project.title}",
                                           funded_at, posted[1].id, project_id=project_id, fund_code=fund_code))
        return {"id": cofunding_id, "project_id": project_id, "partner": partner, "amount": format_fen(amount),
                "line": line_no, "area_transfer_id": posted[0].id,
                "foundation_transfer_id": posted[1].id if from_foundation else None}

    return run_once(uow, key=key, kind="cofunding", request=request_of(cofunding, project_id=project_id),
                    books=books, perform=perform)


def project_view(project_id: str, uow: FundsUnitOfWork) -> dict:
    with uow:
        row = uow.records.one(p.projects, p.projects.c.id == project_id)
        if row is None:
            raise NotFound(f"project {project_id} does not exist")
        return project_report(uow, row)


def project_report(uow, row: dict) -> dict:
    project_id = row["id"]
    lines = _lines(uow, project_id)
    spent_by_line: dict[int, int] = {}
    project_expenses = uow.records.all(p.expenses, p.expenses.c.project_id == project_id, p.expenses.c.spent_at)
    for e in project_expenses:
        spent_by_line[e["line_no"]] = spent_by_line.get(e["line_no"], 0) + e["amount"]
    line_views = []
    for line in lines:
        balance = uow.ledger.balance(line["account_code"])
        line_views.append({"line": line["line_no"], "name": line["name"], "planned": format_fen(line["amount"]),
                           "spent": format_fen(spent_by_line.get(line["line_no"], 0)),
                           "available": format_fen(balance["available"]) if balance else format_fen(0)})
    meetings_rows = uow.records.all(p.meetings, p.meetings.c.project_id == project_id, p.meetings.c.id)
    cofunding_rows = uow.records.all(p.cofundings, p.cofundings.c.project_id == project_id, p.cofundings.c.funded_at)
    return {
        "id": project_id, "area": row["area"], "year": row["year"], "title": row["title"],
        "description": row["description"], "status": row["status"],
        "team": {"name": row["team_name"], "lead": row["lead"], "members": row["members"]},
        "budget": line_views,
        "budget_total": format_fen(sum(line["amount"] for line in lines)),
        "cofunding": [{"partner": c["partner"], "line": c["line_no"], "amount": format_fen(c["amount"]),
                       "fund_code": c["fund_code"]} for c in cofunding_rows],
        "spent": format_fen(sum(spent_by_line.values())),
        "released": format_fen(row["released"]) if row["released"] is not None else None,
        "meetings": [{"kind": m["kind"], "held_on": m["held_on"].isoformat(), "attendees": m["attendees"],
                      **m["details"]} for m in meetings_rows],
        "expenses": [{"line": e["line_no"], "amount": format_fen(e["amount"]), "payee": e["payee"],
                      "receipt_ref": e["receipt_ref"], "description": e["description"],
                      "spent_at": shanghai(e["spent_at"])} for e in project_expenses],
    }
