"""`--export FILE` on `pe-search search` and `pe-search locate`: the results as a spot list for an
editor (the format from the extension or `--export-format`), through `Library.export`."""

from __future__ import annotations

import dataclasses
import sys

import click

from pe_search.cli.output import emit_json
from pe_search.export import FORMATS

_OPTIONS = (
    click.option("--export", "export_path", type=click.Path(dir_okay=False), metavar="FILE",
                 help="Write the results for an editor: .otio .fcpxml .xml .edl .csv .json .vtt .srt."),
    click.option("--export-format", type=click.Choice(sorted(FORMATS)), help="The format, whatever FILE's extension."),
    click.option("--markers-only", is_flag=True, help="Export one clip per file with a marker at each result."),
)  # fmt: skip


def export_options(function):
    """The export options, added to a command (its function takes them as keyword arguments).
    `--handles` and `--force` are shared with `--clips` (cli/clip.py `clips_options`)."""
    for option in reversed(_OPTIONS):
        function = option(function)
    return function


def write_export(
    opened, results, query: str | None, options: dict, as_json: bool, *, handles: float, force: bool
) -> bool:
    """Export `results` when `--export` was given; True when it did (the command prints nothing
    else under --json). What was clamped or left out is one line each on stderr, and the exit
    status is 1 so a script notices; the file holds everything else."""
    if not options.get("export_path"):
        return False
    report = opened.export(
        results,
        options["export_path"],
        format=options.get("export_format"),
        handles=handles,
        markers_only=options.get("markers_only", False),
        force=force,
        query=query,
    )
    if as_json:
        emit_json(dataclasses.asdict(report))
    else:
        click.echo(f"exported {report.exported} results to {report.path} ({report.format}, {report.layout})")
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    for item in report.left_out:
        click.echo(f"left out: {item.path}: {item.reason}", err=True)
    if not report.complete:
        sys.exit(1)
    return as_json
