"""An index on media_files (status, path), for the front doors at a million files (issue 24).

`pe-search status` counts files by status and lists the failed and partial ones by path, and
`GET /api/files?status=...` pages through one status by path. Without an index SQLite read every
row for each: at 1,000,000 files the counts took 0.27 s of CPU and each list of failed or partial
files about 1 s (walking the path index and testing every row's status). With it the counts read
the index alone and a list reads only its own rows, already in path order.

Revision ID: 0009_media_status_index
Revises: 0008_tags
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0009_media_status_index"
down_revision = "0008_tags"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media_files") as batch_op:
        batch_op.create_index("ix_media_files_status_path", ["status", "path"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("media_files") as batch_op:
        batch_op.drop_index("ix_media_files_status_path")
