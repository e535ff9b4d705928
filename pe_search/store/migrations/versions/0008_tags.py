"""Tags (issue 23): the library's vocabulary, cached label text embeddings, each file's segment
tags and its file tags.

Adds `tag_vocabulary` (one row), `label_embeddings` (keyed by model weights, vocabulary digest,
query embedding and prompt form), `tagged_files` (a file's segment tags, dropped with it) and
`file_tags` (a file's tags, dropped with it). Libraries made before have no tags: the next
`pe-search index` or `pe-search tags --update` computes them from the stored vectors.

Revision ID: 0008_tags
Revises: 0007_frame_block_checksums
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_tags"
down_revision = "0007_frame_block_checksums"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tag_vocabulary",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tag_vocabulary")),
    )
    op.create_table(
        "label_embeddings",
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("vocabulary", sa.String(length=64), nullable=False),
        sa.Column("embedding", sa.String(length=32), nullable=False),
        sa.Column("prompt", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vectors", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint(
            "model", "vocabulary", "embedding", "prompt", name=op.f("pk_label_embeddings")
        ),
    )
    op.create_table(
        "tagged_files",
        sa.Column("media_file_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("segments", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_file_id"],
            ["media_files.id"],
            name=op.f("fk_tagged_files_media_file_id_media_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("media_file_id", name=op.f("pk_tagged_files")),
    )
    with op.batch_alter_table("tagged_files") as batch:
        batch.create_index(batch.f("ix_tagged_files_key"), ["key"], unique=False)
    op.create_table(
        "file_tags",
        sa.Column("media_file_id", sa.Integer(), nullable=False),
        sa.Column("label_id", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_file_id"],
            ["media_files.id"],
            name=op.f("fk_file_tags_media_file_id_media_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("media_file_id", "label_id", name=op.f("pk_file_tags")),
    )
    with op.batch_alter_table("file_tags") as batch:
        batch.create_index(batch.f("ix_file_tags_label_id"), ["label_id"], unique=False)


def downgrade() -> None:
    op.drop_table("file_tags")
    op.drop_table("tagged_files")
    op.drop_table("label_embeddings")
    op.drop_table("tag_vocabulary")
