"""Looking for a person in every table of the four databases, each row as text (every column, JSON and the
outbox's and inbox's bodies included)."""
import hashlib
import json

import sqlalchemy as sa

from shared.config import SERVICES
from shared.db import engine_for


def id_card(first17: str) -> str:
    """An ID-card number with its GB 11643 check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights)) % 11]


def needles(person: dict) -> list[str]:
    """Every form in which a person (name, phone, ID number) could be found in clear: the name also as JSON
    escapes it, and the ID number's hash (as good as the number: the numbers are few enough to try them all)."""
    found = [person["name"], json.dumps(person["name"])[1:-1], person["phone"]]
    if person.get("id_card"):
        found += [person["id_card"], hashlib.sha256(person["id_card"].upper().encode()).hexdigest()]
    return found


def _rows_as_text(conn) -> dict[str, str]:
    if conn.dialect.name == "postgresql":
        tables = conn.execute(sa.text("SELECT table_name FROM information_schema.tables "
                                      "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")).scalars().all()
        return {t: "\n".join(conn.execute(sa.text(f'SELECT t::text FROM "{t}" AS t')).scalars()) for t in tables}
    tables = conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars().all()
    return {t: "\n".join(repr(tuple(row)) for row in conn.execute(sa.text(f'SELECT * FROM "{t}"'))) for t in tables}


def found_in_clear(settings, people) -> dict[str, list[str]]:
    """service.table → the needles of ``people`` it holds, for every table holding any."""
    found = {}
    for service in SERVICES:
        with engine_for(settings.db_url(service)).connect() as conn:
            for table, text in sorted(_rows_as_text(conn).items()):
                hits = [needle for person in people for needle in needles(person) if needle in text]
                if hits:
                    found[f"{service}.{table}"] = hits
    return found
