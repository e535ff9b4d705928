"""A checksum of each space's vector file, so a file overwritten or cut short is noticed on open.

Adds `index_state.vectors_crc32`: the CRC-32 of rows [0, next_vector_id) of `SPACE.f32`, continued
by every commit that appends vectors. Libraries made before have NULL (their files are checked by
length only until their next write... of a new space).

Revision ID: 0005
Revises: 0004_frame_blocks
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004_audio_fingerprints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("index_state") as batch:
        batch.add_column(sa.Column("vectors_crc32", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("index_state") as batch:
        batch.drop_column("vectors_crc32")
