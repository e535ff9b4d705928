"""`pe-search search` and `pe-search locate`: queries across modalities, and moments in files."""

from __future__ import annotations

import click

from pe_search.cli.clip import clips_options, report_clips, write_result_clips
from pe_search.cli.export import export_options, write_export
from pe_search.cli.library_option import library_option
from pe_search.cli.output import clock, emit_json, hit_path, json_option
from pe_search.query import parameters as p
from pe_search.query.parameters import Parameter


def query_option(*declarations: str, parameter: Parameter, **extra):
    """A click option from the query parameter's one declaration (default, choices, help)."""
    options: dict = {"help": parameter.help}
    if parameter.choices is not None:
        options["type"] = click.Choice(parameter.choices)
    if parameter.default is not None and not isinstance(parameter.default, bool):
        options.update(default=parameter.default, show_default=True)
    return click.option(*declarations, parameter.name, **options, **extra)


def _probability(value) -> str:
    return "     -" if value is None else f"{value:6.3f}"


@click.command("search")
@click.argument("text", required=False)
@click.option("--audio", type=click.Path(dir_okay=False), help="Query with a sound (a file).")
@click.option("--video", type=click.Path(dir_okay=False), help="Query with footage (a file).")
@click.option(
    "--like", metavar="PATH@START-END", help="Query with a range of a file (a stored segment's own vectors)."
)
@query_option("--target", parameter=p.TARGET)
@query_option("-k", parameter=p.K)
@query_option("--offset", parameter=p.OFFSET)
@query_option("--min-prob", parameter=p.MIN_PROB, type=float)
@query_option("--all-segments", parameter=p.ALL_SEGMENTS, is_flag=True)
@click.option(
    "--kind", "kinds", multiple=True, type=click.Choice(["audio", "video"]), help="Only this kind of file."
)
@click.option("--path-prefix", help="Only files under this path.")
@click.option("--glob", "path_glob", help="Only files whose path matches (SQLite GLOB, * crosses /).")
@click.option("--min-duration", type=click.FloatRange(min=0), help="Only files at least this long (s).")
@click.option("--max-duration", type=click.FloatRange(min=0), help="Only files at most this long (s).")
@click.option("--modified-after", type=click.DateTime(), help="Only files modified after (YYYY-MM-DD).")
@click.option("--modified-before", type=click.DateTime(), help="Only files modified before.")
@query_option("--mode", parameter=p.MODE)
@query_option("--tag", parameter=p.TAG)
@click.option(
    "--facets",
    is_flag=True,
    help='With --json: {"hits": [...], "facets": {"tags": [...]}}, tag counts of the results.',
)
@click.option("--device", default=None, help="cpu or cuda.")
@export_options
@clips_options
@library_option
@json_option
def search_command(
    text,
    audio,
    video,
    like,
    target,
    k,
    offset,
    min_prob,
    all_segments,
    kinds,
    path_prefix,
    path_glob,
    min_duration,
    max_duration,
    modified_after,
    modified_before,
    mode,
    tag,
    facets,
    device,
    clips_dir,
    handles,
    force,
    library,
    as_json,
    **export,
) -> None:
    """Search by TEXT, a sound, footage, sound + TEXT, footage + TEXT, or an indexed segment."""
    from pe_search.api import Library

    # One query, then the process ends: a text query loads the text side alone.
    with Library.open(library, device=device, lean_queries=True) as opened:
        hits = opened.search(
            text, audio=audio, video=video, like=like, target=target, k=k, offset=offset, min_prob=min_prob,
            all_segments=all_segments, kinds=kinds or None, path_prefix=path_prefix, path_glob=path_glob,
            min_duration=min_duration, max_duration=max_duration,
            modified_after=modified_after.timestamp() if modified_after else None,
            modified_before=modified_before.timestamp() if modified_before else None, mode=mode, tag=tag,
        )  # fmt: skip
        counts = opened.facets(hits) if facets else None
        warn_damaged(opened)
        clips = write_result_clips(opened, hits, clips_dir, handles, force) if clips_dir else None
        if write_export(opened, hits, text, export, as_json, handles=handles, force=force):
            return
    if as_json:
        found = [hit.to_dict() | (clip or {}) for hit, clip in zip(hits, clips or [None] * len(hits))]
        emit_json(found if counts is None else {"hits": found, "facets": {"tags": counts}})
        return
    if clips:
        report_clips(clips)
    if not hits:
        click.echo("no results")
        return
    click.echo(f"{'#':>3}  {'prob':>6}  {'score':>8}  {'time':<19}  {'best moment':<10}  path")
    for rank, hit in enumerate(hits, start=offset + 1):
        moment = clock(hit.moment.start) if hit.moment else ""
        span = f"{clock(hit.start)}-{clock(hit.end)}"
        click.echo(
            f"{rank:>3}  {_probability(hit.probability)}  {hit.score:8.3f}  {span:<19}  {moment:<10}  {hit_path(hit)}"
        )
        if hit.why is not None and hit.why.text_field:
            click.echo(f"{'':>5}why: {_why(hit.why)}")
        if hit.words:
            click.echo(f"{'':>5}said: {_said(hit.words)}")
        if hit.tags:
            click.echo(f"{'':>5}tags: " + ", ".join(f"{t.label} {t.probability:.2f}" for t in hit.tags))
    if counts:
        click.echo("tags of these results: " + ", ".join(f"{c.label} ({c.count})" for c in counts))


def warn_damaged(opened) -> None:
    """One line on stderr per file whose stored frames were found damaged (left out)."""
    for damage in opened.damaged_frames():
        click.echo(
            f"warning: {damage.space} frames of {damage.path} are damaged and were left out "
            f"({damage.reason}); run `pe-search index` on its folder to encode it again",
            err=True,
        )


def _said(words) -> str:
    """The spoken words the query matched, each with when it is said."""
    return ", ".join(f"{w.text} {clock(w.start)}-{clock(w.end)}" for w in words)


def _why(why) -> str:
    """One line: where the text matched and with which words, and the model's ranks."""
    field = why.text_field + (f" ({why.text_key})" if why.text_key else "")
    words = ", ".join(why.matched_words)
    vector = f"vector #{why.vector_rank}" if why.vector_rank else "not in the vector top"
    if why.vector_probability is not None:
        vector += f", prob {why.vector_probability:.3f}"
    return f"text #{why.text_rank} in {field}: {words} ({why.text_snippet}); {vector}"


@click.command("locate")
@click.argument("text")
@click.option("--in", "path", type=click.Path(dir_okay=False), help="Only inside this file (indexed or not).")
@query_option("--threshold", parameter=p.THRESHOLD)
@query_option("--min-duration", parameter=p.SPAN_MIN_DURATION)
@query_option("-k", parameter=p.LOCATE_K)
@query_option("--tag", parameter=p.TAG)
@click.option("--device", default=None, help="cpu or cuda.")
@export_options
@clips_options
@library_option
@json_option
def locate_command(
    text, path, threshold, min_duration, k, tag, device, clips_dir, handles, force, library, as_json, **export
) -> None:
    """Where does TEXT happen? 40 ms resolution spans from the frame model."""
    from pe_search.api import Library

    with Library.open(library, device=device) as opened:
        spans = opened.locate(text, path=path, threshold=threshold, min_duration=min_duration, k=k, tag=tag)
        warn_damaged(opened)
        clips = write_result_clips(opened, spans, clips_dir, handles, force) if clips_dir else None
        if write_export(opened, spans, text, export, as_json, handles=handles, force=force):
            return
    if as_json:
        emit_json([span.to_dict() | (clip or {}) for span, clip in zip(spans, clips or [None] * len(spans))])
        return
    if clips:
        report_clips(clips)
    if not spans:
        click.echo("no spans above the threshold")
        return
    notes = {span.note for span in spans if span.note}
    for note in notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"{'prob':>6}  {'time':<19}  path")
    for span in spans:
        click.echo(f"{span.probability:6.3f}  {clock(span.start)}-{clock(span.end):<9}  {hit_path(span)}")
