"""`pe-search status`: what a library holds, how its indexes are built, which files failed;
`pe-search compact`: reclaim the space of freed frame blocks."""

from __future__ import annotations

import click

from pe_search.cli.library_option import library_option
from pe_search.cli.output import emit_json, json_option, shown_path


@click.command("status")
@library_option
@json_option
def status_command(library, as_json) -> None:
    """Model, vectors per space, index types and failed files of a library."""
    from pe_search.status_report import status_report
    from pe_search.store import LibraryStore, resolve_library_dir

    library_dir = resolve_library_dir(library)
    with LibraryStore.open(library_dir, readonly=True, indexes=False) as store:
        report = status_report(store, library_dir).as_dict()
    settings = report["index_settings"]
    if as_json:
        emit_json(report)
        return
    click.echo(f"library {report['library']}: model {', '.join(report['models']) or '(none yet)'}")
    media = ", ".join(f"{count} {state}" for state, count in sorted(report["media"].items())) or "no files"
    click.echo(f"  files: {media}; {report['segments']} segments")
    if settings:
        from indexer.settings import describe

        click.echo(f"  indexed with {describe(settings)}")
    for name, space in sorted(report["spaces"].items()):
        click.echo(f"  {name:<12} {space['vectors']:>9} vectors  {space['index']} {space['params']}")
    for name, frames in sorted(report["frames"].items()):
        click.echo(
            f"  {name:<12} {frames['frames']:>9} frames   {frames['blocks']} blocks ({frames['codes']}), "
            f"{_megabytes(frames['live_bytes'])} live, {_megabytes(frames['reclaimable_bytes'])} reclaimable"
            + (" (pe-search compact)" if frames["reclaimable_bytes"] else "")
        )
    for failure in report["failed"]:
        click.echo(f"  failed: {shown_path(failure['path'])}: {failure['reason']}")
    for part in report["partial"]:
        click.echo(f"  partial: {shown_path(part['path'])}: {part['reason']}")
    if report["transcription_model"] or report["transcribed_files"]:
        files, complete = report["transcribed_files"], report["transcripts_complete"]
        click.echo(
            f"  speech transcribed with {report['transcription_model'] or '(no model recorded)'}: "
            f"{files} file{'' if files == 1 else 's'}, {complete} complete, {files - complete} partial or failed"
        )
    for part in report["transcripts_incomplete"]:
        click.echo(f"  transcript partial or failed: {shown_path(part['path'])}: {part['reason']}")
    for damage in report["damaged"]:
        click.echo(
            f"  damaged: {shown_path(damage['path'])}: {damage['space']} frames left out ({damage['reason']}); "
            "`pe-search index` encodes it again"
        )


def _megabytes(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB"


@click.command("compact")
@library_option
@json_option
def compact_command(library, as_json) -> None:
    """Reclaim the bytes of frame blocks freed by changed and deleted files (safe to interrupt)."""
    from pe_search.store import LibraryStore, disk_errors, resolve_library_dir

    library_dir = resolve_library_dir(library)
    with disk_errors(library_dir), LibraryStore.open(library_dir, create=False) as store:
        before = {name: f.dead_bytes for name, f in store.status().frames.items()}
        messages = store.compact()
    if as_json:
        emit_json(
            {"library": str(library_dir), "reclaimed_bytes": sum(before.values()), "messages": messages}
        )
        return
    for message in messages or ["nothing to reclaim"]:
        click.echo(message)
