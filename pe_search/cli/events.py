"""`pe-search events FILE`: what the frame model hears when in one indexed file, for every label
of a vocabulary, and the same as captions (--export FILE.vtt / .srt)."""

from __future__ import annotations

import click

from pe_search.cli.library_option import library_option
from pe_search.cli.output import clock, emit_json, json_option, shown_path
from pe_search.cli.search import query_option
from pe_search.query import parameters as p


@click.command("events")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--labels",
    metavar="A,B",
    help="Only these labels, comma-separated (default: every tag of the vocabulary).",
)
@click.option(
    "--vocabulary",
    type=click.Path(dir_okay=False),
    help="Labels from this file: one per line, or JSON (default: the library's vocabulary).",
)
@query_option("--threshold", parameter=p.THRESHOLD)
@query_option("--min-duration", parameter=p.SPAN_MIN_DURATION)
@click.option(
    "--export",
    "export_path",
    type=click.Path(dir_okay=False),
    help="Write the events as captions: FILE.vtt or FILE.srt.",
)
@click.option("--force", is_flag=True, help="Replace the --export file if it exists.")
@click.option("--device", default=None, help="cpu or cuda.")
@library_option
@json_option
def events_command(
    file, labels, vocabulary, threshold, min_duration, export_path, force, device, library, as_json
) -> None:
    """Sound events in FILE, 40 ms resolution: for each label, where its probability passes the threshold."""
    from pe_search.api import Library

    with Library.open(library, device=device) as opened:
        timeline = opened.events(
            file, labels=labels, vocabulary=vocabulary, threshold=threshold, min_duration=min_duration
        )
        captions = opened.export_events(timeline, export_path, force=force) if export_path else None
    if as_json:
        emit_json(timeline.to_dict() | ({"captions": captions} if captions else {}))
        return
    if timeline.note:
        click.echo(f"note: {timeline.note}", err=True)
    if captions:
        click.echo(f"wrote {captions.cues} captions to {shown_path(captions.path)}")
    if not timeline.events:
        click.echo(f"no events above the threshold ({timeline.labels} labels looked for)")
        return
    click.echo(f"{'prob':>6}  {'time':<19}  label")
    for event in timeline.events:
        click.echo(f"{event.probability:6.3f}  {clock(event.start)}-{clock(event.end):<9}  {event.label}")
