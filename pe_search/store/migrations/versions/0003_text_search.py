"""Text a file carries (name, folder, container tags, subtitle cues, same-stem .txt) for full-text search.

Adds `text_entries` (one row per piece of text, timed for subtitle cues), `text_sources` (what the
entries were read from, to re-read a changed sidecar) and the FTS5 table `text_fts` over
`text_entries.text` (external content: triggers keep it in step with inserts, updates and deletes,
including the cascade when a media file is deleted). Porter stemming, so "slams" finds "slam".
Existing libraries get their text on the next `pe-search index` run.

Revision ID: 0003_text_search
Revises: 0004_frame_blocks
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_text_search"
down_revision = "0004_frame_blocks"
branch_labels = None
depends_on = None

FTS_STATEMENTS = (
    "CREATE VIRTUAL TABLE text_fts USING fts5(text, content='text_entries', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER text_entries_after_insert AFTER INSERT ON text_entries BEGIN "
    "INSERT INTO text_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER text_entries_after_delete AFTER DELETE ON text_entries BEGIN "
    "INSERT INTO text_fts(text_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER text_entries_after_update AFTER UPDATE ON text_entries BEGIN "
    "INSERT INTO text_fts(text_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO text_fts(rowid, text) VALUES (new.id, new.text); END",
)


def upgrade() -> None:
    op.create_table(
        "text_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_file_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=True),
        sa.Column("start_s", sa.Float(), nullable=True),
        sa.Column("end_s", sa.Float(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_file_id"],
            ["media_files.id"],
            name=op.f("fk_text_entries_media_file_id_media_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_text_entries")),
    )
    with op.batch_alter_table("text_entries") as batch_op:
        batch_op.create_index(batch_op.f("ix_text_entries_media_file_id"), ["media_file_id"], unique=False)
    op.create_table(
        "text_sources",
        sa.Column("media_file_id", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_file_id"],
            ["media_files.id"],
            name=op.f("fk_text_sources_media_file_id_media_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("media_file_id", name=op.f("pk_text_sources")),
    )
    for statement in FTS_STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for trigger in ("after_update", "after_delete", "after_insert"):
        op.execute(f"DROP TRIGGER IF EXISTS text_entries_{trigger}")
    op.execute("DROP TABLE IF EXISTS text_fts")
    op.drop_table("text_sources")
    with op.batch_alter_table("text_entries") as batch_op:
        batch_op.drop_index(batch_op.f("ix_text_entries_media_file_id"))
    op.drop_table("text_entries")
