"""What `pe-search duplicates` learnt, kept so the next run matches only new files (issue 24).

Adds `duplicate_state` (per kind: the match settings it holds for, the next slot),
`duplicate_slots` (which fingerprints the postings hold), `duplicate_postings` (sorted lookup keys
and short files' codes, in chunks) and `duplicate_pairs` (the verified pairs, dropped with either
file). A library without them is grouped from scratch on its next `pe-search duplicates`.

Revision ID: 0011_duplicate_pairs
Revises: 0009_media_status_index
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_duplicate_pairs"
down_revision = "0010_transcripts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "duplicate_state",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("settings", sa.String(length=64), nullable=False),
        sa.Column("next_slot", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_duplicate_state")),
    )
    op.create_table(
        "duplicate_slots",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("media_file_id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("code_bytes", sa.Integer(), nullable=False),
        sa.Column("share_bits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "slot", name=op.f("pk_duplicate_slots")),
    )
    op.create_table(
        "duplicate_postings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("book", sa.String(length=8), nullable=False),
        sa.Column("segment", sa.Integer(), nullable=False),
        sa.Column("values", sa.LargeBinary(), nullable=False),
        sa.Column("slots", sa.LargeBinary(), nullable=False),
        sa.Column("positions", sa.LargeBinary(), nullable=False),
        sa.Column("masks", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_postings")),
    )
    op.create_index("ix_duplicate_postings_kind_book", "duplicate_postings", ["kind", "book"], unique=False)
    op.create_table(
        "duplicate_pairs",
        sa.Column("a", sa.Integer(), nullable=False),
        sa.Column("b", sa.Integer(), nullable=False),
        sa.Column("offset", sa.Integer(), nullable=False),
        sa.Column("bit_error", sa.Float(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["a"], ["media_files.id"], name=op.f("fk_duplicate_pairs_a_media_files"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["b"], ["media_files.id"], name=op.f("fk_duplicate_pairs_b_media_files"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("a", "b", name=op.f("pk_duplicate_pairs")),
    )
    op.create_index("ix_duplicate_pairs_b", "duplicate_pairs", ["b"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_duplicate_pairs_b", table_name="duplicate_pairs")
    op.drop_table("duplicate_pairs")
    op.drop_index("ix_duplicate_postings_kind_book", table_name="duplicate_postings")
    op.drop_table("duplicate_postings")
    op.drop_table("duplicate_slots")
    op.drop_table("duplicate_state")
