"""Transcripts (issue 26): what is said in a file, with word times, searchable as timed text.

Adds `transcripts` (one row per transcribed file: model, weights digest, language, complete or
partial with the reason; dropped with the file), `transcript_phrases` (the words and times of each
phrase, beside its text entry of field "transcript"; dropped with the entry) and
`transcription_model` (one row: the library's transcription model). Libraries made before have
no transcripts: `pe-search index --transcribe MODEL` transcribes their files without encoding
them again.

Revision ID: 0010_transcripts
Revises: 0009_media_status_index
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_transcripts"
down_revision = "0009_media_status_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transcripts",
        sa.Column("media_file_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("weights_digest", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["media_file_id"],
            ["media_files.id"],
            name=op.f("fk_transcripts_media_file_id_media_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("media_file_id", name=op.f("pk_transcripts")),
    )
    op.create_table(
        "transcript_phrases",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["text_entries.id"],
            name=op.f("fk_transcript_phrases_entry_id_text_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_transcript_phrases")),
    )
    op.create_table(
        "transcription_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("weights_digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcription_model")),
    )


def downgrade() -> None:
    op.drop_table("transcription_model")
    op.drop_table("transcript_phrases")
    op.drop_table("transcripts")
