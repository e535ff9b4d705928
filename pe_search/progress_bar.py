"""Indexing progress as a tqdm bar on stderr, for the front doors that show one (the CLI and
`Library.index`): it renders the run's `indexer.events`, which the pipeline sends and never prints."""

from __future__ import annotations

from tqdm import tqdm

from indexer.events import FileDone, FilesPlanned, IndexEvent, MediaEncoded


class IndexProgressBar:
    """Call it with each event; `enabled=None` shows the bar only on a terminal. Close when done."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = enabled
        self.bar: tqdm | None = None

    def __call__(self, event: IndexEvent) -> None:
        if isinstance(event, FilesPlanned):
            self.close()
            disable = None if self.enabled is None else not self.enabled
            self.bar = tqdm(total=event.to_encode, unit="file", disable=disable, leave=False)
        elif self.bar is None:
            return
        elif isinstance(event, FileDone):
            self.bar.update(1)
        elif isinstance(event, MediaEncoded):
            rate = event.media_seconds / event.elapsed if event.elapsed else 0.0
            self.bar.set_postfix_str(
                f"{event.media_seconds:.0f} media s, {rate:.2f} media s/s", refresh=False
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class CountProgressBar:
    """A bar for work counted in items (`pe-search tags --update`: files tagged): call it with
    (done, total); `enabled=None` shows it only on a terminal. Close when done."""

    def __init__(self, unit: str, enabled: bool | None = None) -> None:
        self.unit = unit
        self.enabled = enabled
        self.bar: tqdm | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            disable = None if self.enabled is None else not self.enabled
            self.bar = tqdm(total=total, unit=self.unit, disable=disable, leave=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
