"""`pe-search demo`: the toy models find things in media they never saw, offline, in a few minutes."""

from __future__ import annotations

import click

from pe_search.cli.output import clock, emit_json, json_option
from pe_search.errors import PeSearchError


@click.command("demo")
@click.option(
    "--dir",
    "root",
    default="pe-search-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where to write the generated media and the library (reused when run again).",
)
@click.option(
    "--show", default=3, show_default=True, type=click.IntRange(min=0), help="Queries shown in full per kind."
)
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(min=0), help="Decode worker processes."
)
@json_option
def demo_command(root, show, workers, as_json) -> None:
    """Generate held-out media, index it with the shipped toy models, and query it every way."""
    from pe_search.toy import synth
    from pe_search.toy.demo import ROUTES, run_demo

    def progress(message: str) -> None:
        if not as_json:
            click.echo(message, err=True)

    try:
        report = run_demo(root, workers=workers, progress=progress, index_progress=False if as_json else None)
    except OSError as error:
        raise PeSearchError(
            f"cannot write the demo folder {root}: {error.strerror or error}; pick another with --dir"
        ) from None

    if as_json:
        emit_json(
            {
                **{k: v for k, v in report.__dict__.items() if k not in ("queries", "located", "spoken")},
                "queries": [{**q.__dict__, "right": q.right} for q in report.queries],
                "located": [{**q.__dict__, "right": q.right} for q in report.located],
                "spoken": [_spoken_json(s) for s in report.spoken],
            }
        )
        return
    click.echo(
        f"\nindexed {report.files_indexed} new files of {report.root}/media with the toy PE-AV + PE-A-Frame "
        f"({report.index_seconds:.0f} s) -> {report.library}"
    )
    for route in ROUTES:
        mine = [q for q in report.queries if q.route == route]
        canonical = [q for q in mine if q.query not in _paraphrases(synth)] or mine
        step = max(1, len(canonical) // max(show, 1))
        for outcome in canonical[::step][:show]:
            click.echo(f"\n{route}: {outcome.query!r}   right answer: {outcome.expected}")
            for hit in outcome.hits:
                mark = "✓" if hit.right else " "
                p = "     -" if hit.probability is None else f"{hit.probability:6.3f}"
                click.echo(f"   {mark} {p}  {clock(hit.start)}-{clock(hit.end)}  {hit.path}")
    for located in report.located:
        start, end = located.truth
        click.echo(
            f"\nlocate {located.query!r} in {located.path}   right answer: {clock(start)}-{clock(end)}"
        )
        for s, e, p in located.spans[:3]:
            click.echo(f"   {p:6.3f}  {clock(s)}-{clock(e)}")
        if located.edge_error is not None:
            click.echo(f"   edges within {located.edge_error * 1000:.0f} ms of the truth")
    _show_spoken(report)
    click.echo("\nR@1 over every caption of every class (a hit is right when its generating class matches):")
    for route, value in report.recall_at_1.items():
        count = sum(q.route == route for q in report.queries)
        click.echo(f"   {route:<20} {value:.2f}  ({count} queries)")
    right = sum(located.right for located in report.located)
    click.echo(f"   {'locate (40 ms)':<20} {right}/{len(report.located)} events with both edges within 80 ms")
    if report.spoken:
        landed = sum(spoken.right for spoken in report.spoken)
        click.echo(
            f"   {'spoken phrases':<20} {landed}/{len(report.spoken)} found within 100 ms of their words"
        )
    click.echo(f"\ndone in {report.seconds:.0f} s. Try your own queries on it:")
    click.echo(f'   pe-search search "a rising chirp" --library {report.library}')
    click.echo(f'   pe-search search "a red square moving right" --target video --library {report.library}')
    click.echo(f'   pe-search locate "a high beep" --library {report.library}')
    if report.speech_library:
        click.echo(f"   pe-search search '\"a deep rumble\"' --mode text --library {report.speech_library}")


def _spoken_json(spoken) -> dict:
    found = None if spoken.found is None else {"start": spoken.found[0], "end": spoken.found[1]}
    return {**spoken.__dict__, "found": found, "error": spoken.error, "right": spoken.right}


def _show_spoken(report) -> None:
    """Each spoken phrase: where the generator put its words, where the text search landed."""
    if report.speech_note:
        click.echo(f"\nspoken phrases: {report.speech_note}")
        return
    for spoken in report.spoken:
        start, end = spoken.truth
        click.echo(f'\nsearch "{spoken.query}" (spoken in {spoken.path} at {clock(start)}-{clock(end)})')
        if spoken.found is None:
            click.echo("     not found")
            continue
        mark = "✓" if spoken.right else " "
        found_start, found_end = spoken.found
        click.echo(
            f"   {mark} found at {clock(found_start)}-{clock(found_end)}, "
            f"{spoken.error * 1000:.0f} ms from the words"
        )


def _paraphrases(synth) -> set[str]:
    """Every caption but the first of each class: the demo shows the canonical ones."""
    tables = (synth.SOUNDS, synth.PICTURES, synth.SCENES)
    return {text for table in tables for item in table.values() for text in item.captions[1:]}
