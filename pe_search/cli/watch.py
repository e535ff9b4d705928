"""`pe-search watch`: keep a library in sync with folders as files appear, change, move and vanish
(`Library.watch`, docs/watch.md). Each run shows as `index` shows it (a bar on a terminal), or
as JSON lines with --json: one object per event, `"event"` naming it."""

from __future__ import annotations

import dataclasses
import json
import re
import signal

import click

from pe_search.cli.index_options import POSITIVE, model_options, open_for_indexing, run_options
from pe_search.cli.library_option import library_option
from pe_search.cli.output import _plain, shown_path


def event_record(event) -> dict:
    """An event as one JSON object: {"event": "run_started", ...its fields}."""
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(event).__name__).lower()
    fields = {f.name: _plain(getattr(event, f.name)) for f in dataclasses.fields(event)}
    return {"event": name, **fields}


class _Lines:
    """--json: each event as a line on stdout, flushed (a reader follows the watch live)."""

    def __call__(self, event) -> None:
        click.echo(json.dumps(event_record(event)))


class _Terminal:
    """Without --json: the index progress bar per run, and one line per finished run."""

    def __init__(self) -> None:
        from pe_search.progress_bar import IndexProgressBar

        self.bar = IndexProgressBar(None)

    def __call__(self, event) -> None:
        from indexer.events import RunFinished, Watching

        self.bar(event)
        if isinstance(event, Watching):
            paths = ", ".join(shown_path(p) for p in event.paths)
            click.echo(
                f"watching {paths} (settle {event.settle:g} s, full rescan every {event.rescan:g} s); "
                "Ctrl-C to stop",
                err=True,
            )
        elif isinstance(event, RunFinished):
            self.bar.close()
            s = event.summary
            click.echo(
                f"{event.reason}: indexed {s.files_indexed}, moved {s.moved}, removed {s.removed}, "
                f"failed {len(s.failed)}, unchanged {s.skipped} in {s.seconds:.1f} s",
                err=True,
            )
            for failure in s.failed:
                click.echo(f"  failed: {shown_path(failure['path'])}: {failure['reason']}", err=True)


@click.command("watch")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@library_option
@model_options
@run_options
@click.option(
    "--settle",
    default=2.0,
    show_default=True,
    type=POSITIVE,
    help="Seconds a changed file must stay unchanged (size and mtime) before it is indexed.",
)
@click.option(
    "--rescan",
    default=600.0,
    show_default=True,
    type=POSITIVE,
    help="Seconds between full runs over PATHS, the safety net for file events the system lost.",
)
@click.option("--json", "as_json", is_flag=True, help="Print each event as a line of JSON.")
def watch_command(
    paths,
    library,
    model,
    frame_model,
    no_frames,
    batch_size,
    device,
    bf16,
    no_fast,
    window,
    hop,
    fps,
    frames_per_window,
    frame_codes,
    workers,
    transcribe,
    language,
    include,
    exclude,
    settle,
    rescan,
    as_json,
) -> None:
    """Keep the library in sync with PATHS: index what appears or changes once it settles, keep
    moved files without re-encoding, drop deleted ones. Runs until Ctrl-C."""
    from indexer.settings import InvalidIndexSettings
    from pe_search.store import resolve_library_dir

    if fps is not None and frames_per_window is not None:
        raise click.UsageError("give --fps or --frames-per-window, not both")
    library_dir = resolve_library_dir(library)
    opened = open_for_indexing(library_dir, model, frame_model, no_frames, device, bf16, batch_size, no_fast)
    progress = _Lines() if as_json else _Terminal()
    with opened:
        try:
            watcher = opened.watch(
                paths,
                settle=settle,
                rescan=rescan,
                window=window,
                hop=hop,
                fps=fps,
                frames_per_window=frames_per_window,
                frame_codes=frame_codes,
                on_message=lambda message: click.echo(message, err=True),
                include=include,
                exclude=exclude,
                workers=workers,
                batch_size=batch_size,
                progress=progress,
                transcribe=transcribe,
                language=language,
            )
        except InvalidIndexSettings as error:
            raise click.UsageError(str(error)) from None
        previous = signal.signal(signal.SIGTERM, lambda *_: watcher.stop())  # as a Ctrl-C: stop cleanly
        try:
            with watcher:
                while not watcher.wait(timeout=0.5):
                    pass
        finally:
            signal.signal(signal.SIGTERM, previous)
    if isinstance(progress, _Terminal):
        progress.bar.close()
    click.echo("stopped watching; everything indexed is saved", err=True)
