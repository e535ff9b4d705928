"""Source timecodes: each file's start timecode and frame rate, read at index time (issue 22).

Adds `source_timecodes` (one row per file, dropped with it). Libraries made before have none:
the next index run reads each file's timecode from its headers without re-encoding it.

Revision ID: 0006_source_timecodes
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_source_timecodes"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_timecodes",
        sa.Column("media_file_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.String(length=16), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("drop_frame", sa.Boolean(), nullable=False),
        sa.Column("start_seconds", sa.Float(), nullable=False),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["media_file_id"],
            ["media_files.id"],
            name=op.f("fk_source_timecodes_media_file_id_media_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("media_file_id", name=op.f("pk_source_timecodes")),
    )


def downgrade() -> None:
    op.drop_table("source_timecodes")
