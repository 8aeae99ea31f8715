"""intake: the full case lifecycle (补正, 不予受理, 办结, 回访, 结案), appointments, visits and video sessions.

Revision ID: intake_0002
Revises: intake_0001
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa

revision = "intake_0002"
down_revision = "intake_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("handling", sa.String(10), nullable=False, server_default="routed"))
        batch.add_column(sa.Column("proxy", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("reporter", sa.String(50), nullable=False, server_default=""))
        batch.add_column(sa.Column("attributes", sa.JSON, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("missing_materials", sa.JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("lead_unit", sa.String(40), nullable=False, server_default=""))
        batch.add_column(sa.Column("answer", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("rating", sa.String(20), nullable=False, server_default=""))
        batch.add_column(sa.Column("reason", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_cases_matter_code", "cases", ["matter_code"])
    op.create_index("ix_cases_category", "cases", ["category"])
    op.create_index("ix_cases_area", "cases", ["area"])
    op.create_index("ix_cases_submitted_at", "cases", ["submitted_at"])

    op.create_table(
        "appointment_slots",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("station_code", sa.String(40), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("booked", sa.Integer, nullable=False),
        sa.UniqueConstraint("station_code", "starts_at", name="uq_appointment_slots_station_start"),
        sa.CheckConstraint("booked >= 0 AND booked <= capacity", name="ck_appointment_slots_within_capacity"),
    )
    op.create_table(
        "appointments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("slot_id", sa.String(80), sa.ForeignKey("appointment_slots.id"), nullable=False),
        sa.Column("station_code", sa.String(40), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resident_id", sa.String(36), sa.ForeignKey("residents.id"), nullable=False),
        sa.Column("matter_code", sa.String(80), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminder_sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_appointments_starts_at", "appointments", ["starts_at"])
    op.create_index("ix_appointments_resident_id", "appointments", ["resident_id"])
    op.create_index("uq_appointments_resident_slot_live", "appointments", ["resident_id", "slot_id"], unique=True,
                    postgresql_where=sa.text("status = 'booked'"), sqlite_where=sa.text("status = 'booked'"))
    op.create_table(
        "visits",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("resident_id", sa.String(36), sa.ForeignKey("residents.id"), nullable=False),
        sa.Column("station_code", sa.String(40), nullable=False),
        sa.Column("worker", sa.String(40), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_visits_resident_id", "visits", ["resident_id"])
    op.create_table(
        "visit_cases",
        sa.Column("visit_id", sa.String(36), sa.ForeignKey("visits.id"), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), primary_key=True),
    )
    op.create_index("ix_visit_cases_case_id", "visit_cases", ["case_id"])
    op.create_table(
        "video_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("worker", sa.String(40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_video_sessions_case_id", "video_sessions", ["case_id"])


def downgrade() -> None:
    op.drop_table("video_sessions")
    op.drop_table("visit_cases")
    op.drop_table("visits")
    op.drop_table("appointments")
    op.drop_table("appointment_slots")
    for index in ("ix_cases_submitted_at", "ix_cases_area", "ix_cases_category", "ix_cases_matter_code"):
        op.drop_index(index, table_name="cases")
    with op.batch_alter_table("cases") as batch:
        for column in ("closed_at", "reason", "rating", "answer", "lead_unit", "missing_materials", "attributes",
                       "reporter", "proxy", "handling"):
            batch.drop_column(column)
