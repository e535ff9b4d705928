"""Audio fingerprints for `pe-search duplicates` (pe_search/duplicates/audio_fingerprint.py).

Adds `audio_fingerprints`: per media file, the uint32 code sequence and the content hash it was
computed from. Existing libraries get fingerprints on the next `pe-search index` run.

Revision ID: 0004_audio_fingerprints
Revises: 0003_text_search
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_audio_fingerprints"
down_revision = "0003_text_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audio_fingerprints",
        sa.Column("media_file_id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("codes", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_file_id"],
            ["media_files.id"],
            name=op.f("fk_audio_fingerprints_media_file_id_media_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("media_file_id", name=op.f("pk_audio_fingerprints")),
    )


def downgrade() -> None:
    op.drop_table("audio_fingerprints")
