"""`pe-search duplicates`: groups of files that hold the same recording, and which to keep."""

from __future__ import annotations

import click

from pe_search.cli.library_option import library_option
from pe_search.cli.output import emit_json, json_option


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "      ?"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes):02d}:{rest:05.2f}"


def _rate(bits: int | None) -> str:
    return "?" if not bits else f"{bits / 1000:.0f} kb/s"


def _note(missing: int, damaged: list[str]) -> str | None:
    """What the report leaves out and how to include it, or None when it leaves out nothing."""
    notes = []
    if missing:
        notes.append(
            f"{missing} files with sound have no fingerprint yet (indexed before pe-search kept them): "
            "run pe-search index on their folders to include them"
        )
    if damaged:
        shown = ", ".join(damaged[:3]) + (f" and {len(damaged) - 3} more" if len(damaged) > 3 else "")
        notes.append(
            f"{len(damaged)} stored fingerprints are damaged and were left out ({shown}): "
            "run pe-search index on their folders to recompute them"
        )
    return "; ".join(notes) or None


@click.command("duplicates")
@click.option("--kind", type=click.Choice(["audio", "video"]), help="Only audio files, or only video files.")
@library_option
@json_option
def duplicates_command(kind, library, as_json) -> None:
    """Exact copies and copies in other forms (re-encoded, resampled, mono/stereo, louder or
    quieter, trimmed, re-containered), found by content hash and audio fingerprint."""
    from tqdm import tqdm

    from pe_search.duplicates import audio_fingerprint
    from pe_search.duplicates.groups import find_duplicates, open_for_duplicates
    from pe_search.store import resolve_library_dir

    library_dir = resolve_library_dir(library)
    damaged: list[str] = []
    with open_for_duplicates(library_dir) as store:
        missing = store.missing_audio_fingerprints(audio_fingerprint.VERSION)
        with tqdm(unit=" fingerprints", disable=None, leave=False) as bar:
            groups = find_duplicates(
                store, kind, progress=lambda n: bar.update(n - bar.n), damaged=damaged.append
            )
    note = _note(missing, damaged)
    if as_json:
        emit_json(
            {
                "groups": groups,
                "files_without_fingerprint": missing,
                "damaged_fingerprints": damaged,
                "note": note,
            }
        )
        return
    if note:
        click.echo(f"note: {note}", err=True)
    if not groups:
        click.echo("no duplicates")
        return
    for number, group in enumerate(groups, start=1):
        click.echo(
            f"group {number} ({group.kind}, {len(group.files)} files): keep {group.keep} ({group.reason})"
        )
        for file in group.files:
            mark = "keep" if file.keep else "    "
            detail = file.how
            if file.bit_error is not None:
                detail += f", {file.bit_error:.0%} bits differ"
            if file.offset_seconds:
                detail += f", starts {file.offset_seconds:+.2f} s into the kept file"
            if not file.exists:
                detail += ", MISSING on disk"
            click.echo(
                f"  {mark}  {_clock(file.duration)}  {(file.codec or '?'):<10} {_rate(file.bit_rate):>10}  "
                f"{file.path}  [{detail}]"
            )
