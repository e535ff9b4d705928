"""`pe-search tags`: the library's tags with file counts, one file's tags, or `--update` to tag
the library from its stored vectors (after a new `--vocabulary`, or for files indexed before)."""

from __future__ import annotations

import sys

import click

from pe_search.cli.library_option import library_option
from pe_search.cli.output import emit_json, json_option, shown_path


@click.command("tags")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--update", is_flag=True, help="Tag every file not tagged yet (no media decoded; resumable).")
@click.option(
    "--vocabulary",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Tag with the labels in FILE from now on (one per line, or JSON); every file is tagged again.",
)
@click.option("--all", "show_all", is_flag=True, help="List every label, also those no file has.")
@library_option
@json_option
def tags_command(file, update, vocabulary, show_all, library, as_json) -> None:
    """The library's tags with the number of files under each (a parent counts its children's
    files), or FILE's tags best first with their probability."""
    from pe_search.api import Library
    from pe_search.progress_bar import CountProgressBar
    from pe_search.store import resolve_library_dir

    if vocabulary is not None and not update:
        raise click.UsageError("--vocabulary changes the library's tags: give it with --update")
    with Library.open(resolve_library_dir(library)) as opened:
        if update:
            bar = CountProgressBar("file", None if not as_json else False)
            try:
                result = opened.update_tags(vocabulary, progress=bar)
            except KeyboardInterrupt:
                bar.close()
                click.echo(
                    "interrupted: tagged files are saved; run the same command again to resume", err=True
                )
                sys.exit(130)
            bar.close()
            if as_json:
                emit_json({"vocabulary": opened.vocabulary().name, **result.__dict__})
            else:
                click.echo(
                    f"tagged {result.tagged} files in {result.seconds:.1f} s ({opened.vocabulary().name})"
                )
            if file is None:
                return
        if file is not None:
            tags = opened.file_tags(file)
            if as_json:
                emit_json({"path": file, "tags": tags})
            elif not tags:
                click.echo(f"{shown_path(file)}: no tags (run pe-search tags --update if it is new)")
            else:
                for tag in tags:
                    click.echo(f"{tag.probability:6.3f}  {tag.label}")
            return
        listing = opened.tags()
        labels = [label for label in listing.labels if show_all or label.count]
        if as_json:
            emit_json(
                {
                    "vocabulary": listing.vocabulary,
                    "tagged_files": listing.tagged_files,
                    "untagged_files": listing.untagged_files,
                    "labels": labels,
                }
            )
            return
        click.echo(
            f"vocabulary {listing.vocabulary}: {listing.tagged_files} files tagged"
            + (
                f", {listing.untagged_files} not yet (pe-search tags --update)"
                if listing.untagged_files
                else ""
            )
        )
        for label in sorted(labels, key=lambda label: (-label.count, label.name)):
            click.echo(f"{label.count:6d}  {label.name}")
