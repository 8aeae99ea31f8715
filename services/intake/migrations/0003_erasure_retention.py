"""intake: erasure (PIPL 删除权) and retention — a resident's phone may be erased, when a resident was last active
and when erased, when a case was redacted; the indexes the erasure and the retention pass read.

Revision ID: intake_0003
Revises: intake_0002
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = "intake_0003"
down_revision = "intake_0002"
branch_labels = None
depends_on = None

_DONE = "('settled', 'resolved', 'called_back', 'closed', 'rejected')"
_RESIDENT_COLUMNS = "id, name, phone, area, building, room, id_card_masked, id_card_hash, created_at"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_residents_on_sqlite()
    else:
        op.alter_column("residents", "phone", existing_type=sa.String(11), nullable=True)
        op.add_column("residents", sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=True))
        op.add_column("residents", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_cases_resident_id", "cases", ["resident_id"])
    op.create_index("ix_cases_retention", "cases", ["updated_at"],
                    postgresql_where=sa.text(f"redacted_at IS NULL AND status IN {_DONE}"),
                    sqlite_where=sa.text(f"redacted_at IS NULL AND status IN {_DONE}"))
    # A resident's last activity: their latest case or booking, else when the record was made.
    op.execute("UPDATE residents SET last_active_at = created_at")
    for table, column in (("cases", "submitted_at"), ("appointments", "booked_at")):
        latest = f"(SELECT MAX({column}) FROM {table} WHERE {table}.resident_id = residents.id)"
        op.execute(f"UPDATE residents SET last_active_at = {latest} WHERE {latest} > last_active_at")
    op.create_index("ix_residents_retention", "residents", ["last_active_at"],
                    postgresql_where=sa.text("erased_at IS NULL"), sqlite_where=sa.text("erased_at IS NULL"))
    # An erasure rewrites the events still in the outbox about the resident's cases.
    op.create_index("ix_outbox_subject", "outbox", ["subject"])


def _rebuild_residents_on_sqlite() -> None:
    """SQLite cannot drop NOT NULL: the table is made anew. Copying it to a new table and renaming (as batch
    mode does) would drop the table the cases refer to while foreign keys are enforced; instead the rows wait in
    a copy, and the cases' references are checked at commit, when the table is back with the same ids."""
    op.execute("DELETE FROM residents WHERE 1 = 0")  # opens the transaction (the sqlite3 module waits for a write)
    op.execute("PRAGMA defer_foreign_keys = ON")
    op.execute(f"CREATE TABLE _residents_0002 AS SELECT {_RESIDENT_COLUMNS} FROM residents")
    op.drop_table("residents")
    op.create_table(
        "residents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("phone", sa.String(11), nullable=True),
        sa.Column("area", sa.String(40), nullable=False),
        sa.Column("building", sa.String(20), nullable=False),
        sa.Column("room", sa.String(20), nullable=False),
        sa.Column("id_card_masked", sa.String(18), nullable=True),
        sa.Column("id_card_hash", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("phone"),
    )
    op.execute(f"INSERT INTO residents ({_RESIDENT_COLUMNS}) SELECT {_RESIDENT_COLUMNS} FROM _residents_0002")
    op.drop_table("_residents_0002")


def downgrade() -> None:
    op.drop_index("ix_outbox_subject", table_name="outbox")
    op.drop_index("ix_residents_retention", table_name="residents")
    op.drop_index("ix_cases_retention", table_name="cases")
    op.drop_index("ix_cases_resident_id", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("redacted_at")
    # Erased residents have no phone any more; the column stays nullable.
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("erased_at")
        batch.drop_column("last_active_at")
