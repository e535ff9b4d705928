"""Errors a user can cause. Each carries what went wrong, the value at fault and what to do, as
fields; options it mentions are `Option`s that each front door spells for its own users (the CLI
as flags, `--rebuild`; the library API as parameters, `rebuild=True`). The CLI prints one line
without a traceback. Anything else is a bug and propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Option:
    """A setting the user gives, as the library API names it (`name`, with `value` if shown)."""

    name: str  # the API parameter: "rebuild", "frame_model", "k"
    value: str | None = None  # already formatted; None: the option alone
    flag: str | None = None  # the CLI flag when it is not `--name-with-dashes` ("-k", "TEXT")
    cli: bool = True  # False: the CLI has no flag for it (spelled as the parameter there too)
    switch: bool = False  # an on/off flag: `--rebuild` on the command line, `rebuild=True` in the API


Spelling = Callable[[Option], str]


def cli_spelling(option: Option) -> str:
    """`--window 2`, `--rebuild`, `-k`; a setting with no flag as `name=value`."""
    if not option.cli:
        return api_spelling(option)
    flag = option.flag or "--" + option.name.replace("_", "-")
    return flag if option.value is None or option.switch else f"{flag} {option.value}"


def api_spelling(option: Option) -> str:
    """`window=2`, `rebuild=True`, `k`."""
    if option.switch:
        return f"{option.name}=True"
    return option.name if option.value is None else f"{option.name}={option.value}"


class PeSearchError(Exception):
    """Base class. `what`: the problem; `fix`: what to do; `value`: the value at fault (if one).
    `what` and `fix` may name `options` as {0}, {1}, ..., spelled by `worded`. `str(error)` is the
    command-line wording (the CLI shows it as it is)."""

    def __init__(
        self, what: str, fix: str | None = None, *, options: Sequence[Option] = (), value: object = None
    ) -> None:
        self.what = what
        self.fix = fix
        self.options = tuple(options)
        self.value = value
        super().__init__(self.worded(cli_spelling))

    def worded(self, spell: Spelling) -> str:
        """The one-line message with the options spelled by `spell`."""
        names = [spell(option) for option in self.options]
        what = _fill(self.what, names)
        return f"{what}: {_fill(self.fix, names)}" if self.fix else what


def _fill(text: str, names: list[str]) -> str:
    for index, name in enumerate(names):
        text = text.replace(f"{{{index}}}", name)
    return text


class MediaError(PeSearchError):
    """A media file cannot be used: names the file and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}", value=self.path)


class ModelLoadError(PeSearchError):
    """A checkpoint cannot be found or read."""
