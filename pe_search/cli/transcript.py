"""`pe-search transcript FILE`: what is said in one indexed file, phrase by phrase with times
(`--json`: every word's times), and the same as subtitles or text (--export FILE.srt/.vtt/.txt)."""

from __future__ import annotations

import click

from pe_search.cli.library_option import library_option
from pe_search.cli.output import clock, emit_json, json_option, shown_path
from pe_search.errors import Option, PeSearchError

TRANSCRIBE = Option("transcribe", value="MODEL")


@click.command("transcript")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--export",
    "export_path",
    type=click.Path(dir_okay=False),
    help="Write the transcript: FILE.srt or FILE.vtt (a cue per phrase), FILE.txt (a line per phrase).",
)
@click.option("--force", is_flag=True, help="Replace the --export file if it exists.")
@library_option
@json_option
def transcript_command(file, export_path, force, library, as_json) -> None:
    """What is said in FILE (an indexed file transcribed with `index --transcribe`), with times."""
    from pe_search.api import Library

    with Library.open(library) as opened:
        found = opened.transcript(file)
        record = found.record
        if record is None:
            raise PeSearchError(
                f"{found.path} has no transcript",
                "index it with {0}",
                options=(TRANSCRIBE,),
                value=found.path,
            )
        written = opened.export_transcript(found, export_path, force=force) if export_path else None
    if as_json:
        emit_json(found.to_dict() | ({"export": written} if written else {}))
        return
    words = sum(len(phrase.words) for phrase in record.phrases)
    language = f", {record.language}" if record.language else ""
    click.echo(
        f"{shown_path(found.path)}: {len(record.phrases)} phrases, {words} words ({record.model}{language})"
    )
    if not record.complete:
        click.echo(f"partial transcript: {record.reason or 'reason not recorded'}")
    if written:
        click.echo(f"wrote {written.cues} phrases to {shown_path(written.path)} ({written.format})")
        return
    for phrase in record.phrases:
        text = " ".join(word.text for word in phrase.words)
        click.echo(f"{clock(phrase.start)}-{clock(phrase.end)}  {text}")
