"""Media kind for filters, and the lookups the indexer and deletes need.

Adds `media_files.kind` ("video" when the file has a picture stream, else "audio"), filled in for
existing rows; an index on (kind, mtime) for filtered search; an index on `content_hash` so a moved
file is found without re-encoding; indexes on the foreign keys so deleting a file's segments and
vectors does not scan the whole table.

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media_files") as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=8), nullable=True))
    op.execute("UPDATE media_files SET kind = CASE WHEN has_video THEN 'video' ELSE 'audio' END")
    with op.batch_alter_table("media_files") as batch_op:
        batch_op.create_index(batch_op.f("ix_media_files_content_hash"), ["content_hash"], unique=False)
        batch_op.create_index("ix_media_files_kind_mtime", ["kind", "mtime"], unique=False)
    with op.batch_alter_table("segments") as batch_op:
        batch_op.create_index(batch_op.f("ix_segments_media_file_id"), ["media_file_id"], unique=False)
    with op.batch_alter_table("vectors") as batch_op:
        batch_op.create_index(batch_op.f("ix_vectors_segment_id"), ["segment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("vectors") as batch_op:
        batch_op.drop_index(batch_op.f("ix_vectors_segment_id"))
    with op.batch_alter_table("segments") as batch_op:
        batch_op.drop_index(batch_op.f("ix_segments_media_file_id"))
    with op.batch_alter_table("media_files") as batch_op:
        batch_op.drop_index("ix_media_files_kind_mtime")
        batch_op.drop_index(batch_op.f("ix_media_files_content_hash"))
        batch_op.drop_column("kind")
