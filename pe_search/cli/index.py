"""`pe-search index`: bring a library up to date with folders of media."""

from __future__ import annotations

import sys

import click

from pe_search.cli.index_options import model_options, open_for_indexing, run_options
from pe_search.cli.library_option import library_option
from pe_search.cli.output import emit_json, json_option, shown_path


@click.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@library_option
@model_options
@run_options
@click.option(
    "--ray",
    "ray_address",
    default=None,
    is_flag=False,
    flag_value="auto",
    metavar="[auto|ADDRESS|local]",
    help="Decode and encode on a Ray cluster (auto: the running one; local: start one here); this process writes.",
)
@click.option(
    "--ray-actors",
    default=None,
    type=click.IntRange(min=1),
    help="Encoding actors on Ray (default: one per GPU, else the cluster's CPUs minus one).",
)
@click.option(
    "--ray-batch-files",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Files a Ray actor takes at a time.",
)
@click.option(
    "--ray-cpus-per-actor",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="CPUs per Ray actor; on GPU actors all but one decode in worker processes.",
)
@click.option("--no-prune", is_flag=True, help="Keep files that are gone from disk in the library.")
@click.option(
    "--rebuild",
    is_flag=True,
    help="Drop every stored vector and encode every file again (another model or settings, or a repair).",
)
@click.option(
    "--rebuild-transcripts",
    is_flag=True,
    help="Transcribe every file again (also with another --transcribe model than the library's); no vector is encoded again.",
)
@click.option(
    "--vocabulary",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Tag with the labels in FILE (one per line, or JSON); recorded with the library (default: AudioSet).",
)
@json_option
def index_command(
    paths,
    library,
    model,
    frame_model,
    no_frames,
    window,
    hop,
    fps,
    frames_per_window,
    frame_codes,
    batch_size,
    workers,
    transcribe,
    language,
    ray_address,
    ray_actors,
    ray_batch_files,
    ray_cpus_per_actor,
    device,
    bf16,
    no_fast,
    include,
    exclude,
    no_prune,
    rebuild,
    rebuild_transcripts,
    vocabulary,
    as_json,
) -> None:
    """Index the audio and video under PATHS (folders or files), incrementally."""
    from indexer.settings import InvalidIndexSettings
    from pe_search.store import resolve_library_dir

    if fps is not None and frames_per_window is not None:
        raise click.UsageError("give --fps or --frames-per-window, not both")
    ray = None
    if ray_address is not None:
        from indexer.distributors.ray import RayOptions, import_ray

        import_ray()  # the install hint before any model is loaded
        ray = RayOptions(
            address=ray_address,
            actors=ray_actors,
            files_per_batch=ray_batch_files,
            cpus_per_actor=ray_cpus_per_actor,
        )
    library_dir = resolve_library_dir(library)
    opened = open_for_indexing(library_dir, model, frame_model, no_frames, device, bf16, batch_size, no_fast)
    with opened:
        try:
            summary = opened.index(
                paths,
                window=window,
                hop=hop,
                fps=fps,
                frames_per_window=frames_per_window,
                frame_codes=frame_codes,
                rebuild=rebuild,
                on_message=lambda message: click.echo(message, err=True),
                include=include,
                exclude=exclude,
                prune=not no_prune,
                workers=workers,
                batch_size=batch_size,
                progress=None if not as_json else False,
                ray=ray,
                vocabulary=vocabulary,
                transcribe=transcribe,
                language=language,
                rebuild_transcripts=rebuild_transcripts,
            )
        except InvalidIndexSettings as error:
            raise click.UsageError(str(error)) from None
    if as_json:
        emit_json(
            {
                **summary.__dict__,
                "media_seconds_per_second": summary.media_seconds_per_second,
                "library": str(library_dir),
            }
        )
    else:
        _print_summary(summary, library_dir)
    if summary.interrupted:
        click.echo("interrupted: finished files are saved; run the same command again to resume", err=True)
        sys.exit(130)
    if summary.failed:
        sys.exit(1)


def _print_summary(summary, library_dir) -> None:
    vectors = ", ".join(f"{count} {space}" for space, count in sorted(summary.vectors.items())) or "none"
    click.echo(
        f"indexed {summary.files_indexed} files ({summary.media_seconds:.0f} media s at "
        f"{summary.media_seconds_per_second:.2f} media s/s), skipped {summary.skipped} unchanged, "
        f"moved {summary.moved}, removed {summary.removed}, failed {len(summary.failed)}, "
        f"partial {len(summary.partial)}, ignored {summary.ignored} (not audio or video), "
        f"sidecars {summary.sidecars} (subtitles and text read with their media) "
        f"in {summary.seconds:.1f} s -> {library_dir}"
    )
    click.echo(f"  {summary.segments} segments; vectors: {vectors}")
    if summary.transcribed or summary.transcripts_incomplete:
        click.echo(f"  transcribed {summary.transcribed} files")
    for part in summary.transcripts_incomplete:
        click.echo(f"  transcript partial or failed (file indexed): {shown_path(part['path'])}: {part['reason']}")
    for failure in summary.failed:
        click.echo(f"  failed: {shown_path(failure['path'])}: {failure['reason']}")
    for part in summary.partial:
        click.echo(f"  partial (indexed what decodes): {shown_path(part['path'])}: {part['reason']}")
    for path in summary.replaced:
        click.echo(
            f"  changed while being indexed (not written; the next run indexes it): {shown_path(path)}"
        )
