"""`pe-search clip` (one span of a file as a file of its own) and `--clips DIR` on search and
locate (each result's span as its own file), for pulling found moments into a DAW or an editor."""

from __future__ import annotations

from pathlib import Path

import click

from pe_search.cli.library_option import library_option
from pe_search.cli.output import emit_json, json_option, shown_path
from pe_search.errors import PeSearchError
from pe_search.query import parameters as p
from pe_search.store import LibraryNotFoundError


def handles_option(function):
    """`--handles S`: one declaration (query/parameters.py HANDLES) for clips and exports."""
    return click.option(
        "--handles", type=click.FloatRange(min=p.HANDLES.least), default=p.HANDLES.default,
        show_default=True, help=p.HANDLES.help,
    )(function)  # fmt: skip


def clips_options(function):
    """`--clips DIR`, `--handles S` and `--force` for a command whose results become clips."""
    function = click.option(
        "--force", is_flag=True, help="Replace files that exist (clips, the export file)."
    )(function)
    function = handles_option(function)
    return click.option(
        "--clips",
        "clips_dir",
        type=click.Path(file_okay=False),
        help="Write each result's span as a file here.",
    )(function)


def write_result_clips(opened, results, clips_dir: str, handles: float, force: bool) -> list[dict]:
    """Write the results' clips; one dict per result: the clip written, or why not ("clip_error")."""
    from pe_search.media.trim import TrimmedClip  # PyAV: loaded only when clips are written

    folder = Path(clips_dir).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PeSearchError(
            f"cannot make the clips folder {folder}: {error.strerror}", value=str(folder)
        ) from None
    outcomes = []
    for written in opened.clips(results, folder, handles=handles, force=force):
        if isinstance(written, TrimmedClip):
            outcomes.append({"clip": written.to_dict()})
        else:
            outcomes.append({"clip_error": str(written)})
    return outcomes


def report_clips(outcomes: list[dict]) -> None:
    """One line per clip on stderr (the results' table keeps stdout)."""
    for outcome in outcomes:
        if "clip" in outcome:
            clip = outcome["clip"]
            note = f"  ({clip['note']})" if clip["note"] else ""
            click.echo(f"clip: {shown_path(clip['out'])}  [{clip['method']}]{note}", err=True)
        else:
            click.echo(f"clip left out: {outcome['clip_error']}", err=True)


@click.command("clip")
@click.argument("path", type=click.Path(dir_okay=False))
@click.argument("start", type=float)
@click.argument("end", type=float)
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="The clip file (format from its extension).",
)
@handles_option
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@library_option
@json_option
def clip_command(path, start, end, out, handles, force, library, as_json) -> None:
    """Write START..END seconds of PATH as its own file OUT (WAV/FLAC sample-accurate; video and
    compressed audio stream-copied on a keyframe, else re-encoded). PATH is never written."""
    from pe_search.api import Library
    from pe_search.media.trim import write_clip

    try:
        with Library.open(library) as opened:
            clip = opened.clip(path, start, end, out, handles=handles, force=force)
    except LibraryNotFoundError:  # any file can be cut: the library only adds what it knows of it
        clip = write_clip(path, start, end, out, handles=handles, force=force)
    if as_json:
        emit_json(clip.to_dict())
        return
    if clip.note:
        click.echo(f"note: {clip.note}", err=True)
    click.echo(f"{shown_path(clip.out)}  {clip.start:.3f}-{clip.end:.3f} s  [{clip.method}]")
