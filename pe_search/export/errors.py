"""What can go wrong when writing an export, worded once for every front door."""

from __future__ import annotations

from pathlib import Path

from pe_search.errors import Option, PeSearchError

FORMAT = Option("format", flag="--export-format")
FORCE = Option("force", switch=True)
IN_FILE = Option("path", flag="--in")


class ExportError(PeSearchError):
    """An export that cannot be written (the output, the format or the results are at fault)."""


def unknown_format(path: Path, name: str | None, known: list[str]) -> ExportError:
    asked = f"format {name!r}" if name else f"the extension {path.suffix or '(none)'!r} of {path.name}"
    return ExportError(
        f"no export format for {asked}",
        f"use one of {', '.join(known)} (as the extension, or with {{0}})",
        options=(FORMAT,),
        value=name or path.suffix,
    )


def output_exists(path: Path) -> ExportError:
    return ExportError(f"{path} already exists", "pass {0} to replace it", options=(FORCE,), value=str(path))


def output_unwritable(path: Path, reason: str) -> ExportError:
    return ExportError(f"cannot write {path} ({reason})", "choose a folder you can write to", value=str(path))


def nothing_to_export(reasons: list[str]) -> ExportError:
    said = "; ".join(reasons[:3]) + (f"; and {len(reasons) - 3} more" if len(reasons) > 3 else "")
    return ExportError(
        "nothing to export" + (f": {said}" if said else " (no results)"),
        "search again, or re-index the files that changed",
    )


def one_file_only(extension: str, count: int) -> ExportError:
    return ExportError(
        f"{extension} holds the spans of one file, and these results come from {count} files",
        "locate inside one file ({0}), or export to .otio, .csv or .json",
        options=(IN_FILE,),
        value=extension,
    )


def mixed_rates(rates: list[float]) -> ExportError:
    shown = ", ".join(f"{rate:g}" for rate in rates)
    return ExportError(
        f"an EDL counts frames at one rate, and these files run at {shown} fps",
        "export one frame rate at a time (filter the search), or export to .otio, .xml or .fcpxml",
        value=shown,
    )
