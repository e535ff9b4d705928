"""Frame vectors as one block per (file, space): the tables `frame_files` and `frame_blocks`.

The frame rows of a library written before (one `segments` row, one `vectors` row and one float32
row per 40 ms frame) are converted by a data step that runs when the library is next opened for
writing (`pe_search.store.frame_migration`), one file per transaction, so it resumes if killed.

Revision ID: 0004_frame_blocks
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_frame_blocks"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "frame_files",
        sa.Column("space", sa.String(length=32), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("tail", sa.Integer(), nullable=False),
        sa.Column("live_bytes", sa.Integer(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("codes", sa.String(length=8), nullable=False),
        sa.Column("codebook_params", sa.JSON(), nullable=True),
        sa.Column("codebook", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("space", name=op.f("pk_frame_files")),
    )
    op.create_table(
        "frame_blocks",
        sa.Column("media_file_id", sa.Integer(), nullable=False),
        sa.Column("space", sa.String(length=32), nullable=False),
        sa.Column("offset", sa.Integer(), nullable=False),
        sa.Column("nbytes", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("encoding", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_file_id"],
            ["media_files.id"],
            name=op.f("fk_frame_blocks_media_file_id_media_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("media_file_id", "space", name=op.f("pk_frame_blocks")),
    )


def downgrade() -> None:
    op.drop_table("frame_blocks")
    op.drop_table("frame_files")
