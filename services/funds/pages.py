"""The printable disclosure page (公示): the published JSON document laid out for a notice board."""
from __future__ import annotations

import base64
import hashlib
from html import escape

from shared.http import PAGE_CSP as SHARED_CSP

STYLE = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse;margin:1em 0}"
         "td,th{border:1px solid #999;padding:.3em .6em;text-align:left}@media print{.chain{font-size:8pt}}")
# The page's one style sheet is inline; the policy admits exactly it, by its hash, and no other inline style.
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")
PAGE_CSP = SHARED_CSP.replace("style-src 'self'", f"style-src 'self' 'sha256-{_STYLE_HASH}'")


def _yuan(text: str | None) -> str:
    if text is None:
        return "—"
    sign = "-" if text.startswith("-") else ""
    yuan, _, fen = text.lstrip("-").partition(".")
    return f"{sign}¥{int(yuan):,}.{fen}"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def disclosure_html(doc: dict) -> str:
    title = (f"{doc['area']} 居民区自治金 {doc['year']} 年度公示" if doc["kind"] == "autonomy-fund"
             else f"社区公益基金会 {doc['year']} 年度公示")
    parts = [f"<h1>{escape(title)}</h1>",
             f"<p>发布时间 published {escape(doc['published_at_local'])}</p>"]
    if doc["kind"] == "autonomy-fund":
        parts.append(f"<p>年度拨款 allocation {_yuan(doc['allocation'])} · 支出合计 spent {_yuan(doc['spent_total'])}"
                     f" · 未预留自治金 unreserved {_yuan(doc['unreserved_fund'])}</p>")
        for project in doc["projects"]:
            parts.append(f"<h2>{escape(project['id'])} {escape(project['title'])} — {escape(project['status'])}</h2>")
            parts.append(f"<p>团队 team {escape(project['team']['name'])}, 负责人 lead {escape(project['team']['lead'])}</p>")
            parts.append(_table(["预算科目 line", "预算 planned", "支出 spent", "余额 available"],
                                [[f"{b['line']} {b['name']}", _yuan(b["planned"]), _yuan(b["spent"]),
                                  _yuan(b["available"])] for b in project["budget"]]))
            if project["expenses"]:
                parts.append(_table(["日期 date", "收款方 payee", "票据 receipt", "金额 amount"],
                                    [[e["spent_at"][:10], e["payee"], e["receipt_ref"], _yuan(e["amount"])]
                                     for e in project["expenses"]]))
            meetings = [f"{m['kind']} {m['held_on']}" for m in project["meetings"]]
            parts.append(f"<p>三会 meetings: {escape(', '.join(meetings) or '—')}</p>")
    else:
        parts.append(f"<p>捐赠合计 donations {_yuan(doc['donations_total'])}</p>")
        for event in doc["events"]:
            parts.append(f"<h2>{escape(event['event']['name'])} ({escape(event['event']['held_on'])})</h2>")
            parts.append(_table(["拍品 lot", "捐赠人 donor", "成交价 hammer"],
                                [[f"{lot['lot_number']} {lot['title']}", lot["donor"], _yuan(lot["hammer_price"])]
                                 for lot in event["lots"]]))
            parts.append(f"<p>慈善拍卖 auction {_yuan(event['auction_total'])} · 公益市集 market "
                         f"{_yuan(event['market_total'])} · 合计 proceeds {_yuan(event['proceeds_total'])} · "
                         f"现场捐赠 donations {_yuan(event['donations_total'])}</p>")
        parts.append(_table(["专项基金 fund", "设立金额 founded with", "余额 available"],
                            [[f["name"], _yuan(f["founding_amount"]), _yuan(f["available"])] for f in doc["funds"]]))
        parts.append(_table(["捐赠人 donor", "合计 total"], [[r["name"], _yuan(r["total"])] for r in doc["per_donor"]]))
    chain = doc["chain"]
    parts.append(f"<p class=chain>账本 book {escape(chain['book'])} · 第 {chain['sequence']} 笔 entry · "
                 f"链头 chain head <code>{escape(chain['head'])}</code><br>Verify: fetch "
                 f"/funds/disclosures/{escape(doc['id'])}/ledger and run <code>doorstep ledger verify --export "
                 f"FILE</code>; the chain must end at this head.</p>")
    return (f"<!doctype html><html lang=zh-CN><head><meta charset=utf-8><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")

