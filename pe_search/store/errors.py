"""Errors a user can cause when opening or writing a library (the store raises them). Each says
what went wrong, the value at fault and what to do."""

from __future__ import annotations

from pathlib import Path

from pe_search.errors import Option, PeSearchError


class LibraryNotFoundError(PeSearchError):
    """The library directory holds no library and creating one was not asked for."""

    def __init__(self, library_dir: str | Path) -> None:
        self.library_dir = str(library_dir)
        super().__init__(
            f"no library at {self.library_dir}",
            "index a folder into it first, or pass {0} (or set PE_SEARCH_LIBRARY) to pick another",
            options=(Option("path", flag="--library"),),
            value=self.library_dir,
        )


class LibraryBusyError(PeSearchError):
    """Another process holds the library's single writer lock."""

    def __init__(self, library_dir: str | Path, holder: str) -> None:
        self.library_dir = str(library_dir)
        self.holder = holder
        super().__init__(
            f"library {self.library_dir} is being written by another process ({holder})",
            "wait for it to finish, or open the library read-only",
            value=self.library_dir,
        )


class LibraryVersionError(PeSearchError):
    """The database's schema is not one this version of pe-search can read."""


class ModelMismatchError(PeSearchError):
    """The library was built with another model than the one it is opened with."""

    def __init__(self, library_dir: str | Path, difference: str, *, querying: bool = False) -> None:
        self.library_dir = str(library_dir)
        self.difference = difference
        fix = (
            "query it with the model that built it, or index it again for this model "
            "(re-encodes every file: index with {0})"
            if querying  # a query has no rebuild of its own: say which command has it
            else "open it with the model that built it, or rebuild it for this model "
            "(re-encodes every file: pass {0})"
        )
        super().__init__(
            f"library {self.library_dir} was built with another model ({difference})",
            fix,
            options=(Option("rebuild", switch=True),),
            value=difference,
        )


class LibraryDamagedError(PeSearchError):
    """Stored vectors the database refers to are gone (a vectors file was truncated or removed)."""


class TextIndexDamagedError(LibraryDamagedError):
    """The full-text index's own rows are damaged. It is worked out from the text entries, so the
    next index run rebuilds it in place; the model's side of search is unaffected meanwhile."""

    def __init__(self, database: str | Path) -> None:
        self.database = str(database)
        super().__init__(
            f"the full-text index (names, tags, subtitles) in {self.database} is damaged",
            "run {0} to rebuild it in place (nothing is re-encoded); meanwhile search with {1}",
            options=(Option("Library.index", flag="`pe-search index`"), Option("mode", "vector")),
            value=self.database,
        )


class ModelRecordError(PeSearchError):
    """The library's record of the model that built it cannot be read, so no model can be chosen
    for it without being told (loading a default instead would re-encode it with another model)."""

    def __init__(self, library_dir: str | Path, reason: str) -> None:
        self.library_dir = str(library_dir)
        self.reason = reason
        super().__init__(
            f"cannot read which model built library {self.library_dir} ({reason})",
            "pass the model it was built with: {0}",
            options=(Option("model", "MODEL"),),
            value=self.library_dir,
        )


class LibraryReadOnlyError(PeSearchError):
    """The library sits on a read-only disk or mount: it can be searched, not written."""

    def __init__(self, library_dir: str | Path) -> None:
        self.library_dir = str(library_dir)
        super().__init__(
            f"library {self.library_dir} is read-only (its disk or mount cannot be written)",
            "search and status work as it is; to index or compact it, remount it read-write "
            "or copy the library folder to a writable disk",
            value=self.library_dir,
        )


class LibraryDiskFullError(PeSearchError):
    """The disk holding the library ran out of space while the library was written."""

    def __init__(self, library_dir: str | Path) -> None:
        self.library_dir = str(library_dir)
        super().__init__(
            f"the disk holding library {self.library_dir} is full",
            "free some space on it, then run the command again (index resumes where it stopped; "
            "nothing already indexed is lost)",
            value=self.library_dir,
        )
