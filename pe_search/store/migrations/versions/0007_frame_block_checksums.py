"""Checksums of frame blocks and of every chunk of the vector files (issue 27, defects 5 and 8).

Adds `frame_blocks.crcs` (the CRC-32 of each 1 MiB piece of a block), the table `vector_chunks`
(the CRC-32 of each 16 MiB chunk of a space's vector file) and the one-row table `scrub_state`
(where the last open stopped verifying). Libraries made before get their checksums on the first
open for writing after the upgrade (`store/scrub.py`: one read of each file, the vector files
checked against `index_state.vectors_crc32` where recorded).

Revision ID: 0007_frame_block_checksums
Revises: 0006_source_timecodes
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_frame_block_checksums"
down_revision = "0006_source_timecodes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("frame_blocks") as batch:
        batch.add_column(sa.Column("crcs", sa.LargeBinary(), nullable=True))
    op.create_table(
        "vector_chunks",
        sa.Column("space", sa.String(length=32), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("crc32", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("space", "chunk", name=op.f("pk_vector_chunks")),
    )
    op.create_table(
        "scrub_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scrub_state")),
    )


def downgrade() -> None:
    op.drop_table("scrub_state")
    op.drop_table("vector_chunks")
    with op.batch_alter_table("frame_blocks") as batch:
        batch.drop_column("crcs")
