"""The library API: `Library.open(path)`, then `.index()`, `.search()`, `.locate()`, `.status()`.

    from pe_search import Library
    library = Library.open("pe-library", model="facebook/pe-av-small")
    library.index(["~/Sounds"])
    for hit in library.search("a dog barking", target="audio", k=5):
        print(hit.path, hit.start, hit.end, hit.probability)

Queries use the models recorded in the library; `model=` is only needed to build a new one.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pe_search.errors import Option, PeSearchError
from pe_search.models.choice import ModelChoice, choose_models
from pe_search.models.loading import FULL_PRECISION
from pe_search.progress_bar import IndexProgressBar
from pe_search.query import parameters as params
from pe_search.query.curve import FrameCurve, frame_curve
from pe_search.query.events import EventTimeline, chosen_labels, file_events, split_labels
from pe_search.query.reencode import ChunkReencoder
from pe_search.query.request import Locate, QueryRequest
from pe_search.query.results import Hit, LocatedSpan
from pe_search.query.routes import QueryError
from pe_search.query.service import QueryService
from pe_search.query.tag_filter import TagCount, facets
from pe_search.store import (
    DamagedFrames,
    LibraryLayout,
    LibraryNotFoundError,
    LibraryStatus,
    LibraryStore,
    MediaInfo,
    ModelMismatchError,
    SearchFilter,
    TranscriptRecord,
    WriterLock,
    disk_errors,
    recorded_model_ids,
    resolve_library_dir,
)
from pe_search.tagging import Vocabulary, load_vocabulary
from pe_search.tagging.listing import Tag, TagListing, listing, named
from pe_search.tagging.recorded import choose_vocabulary, from_record
from pe_search.tagging.update import TagUpdate, build_tagger, current_key, update_tags

log = logging.getLogger(__name__)

CACHED_PEAKS = 64  # waveform peaks a Library keeps (10,000 bins: 160 kB each)

if TYPE_CHECKING:
    from indexer.watch import Watcher
    from pe_search.duplicates.groups import DuplicateGroup
    from pe_search.export import ExportReport, FileFacts
    from pe_search.export.captions import CaptionReport
    from pe_search.export.transcripts import FileTranscript
    from pe_search.media.peaks import Peaks
    from pe_search.media.timecode import SourceTimecode
    from pe_search.media.trim import TrimmedClip
    from pe_search.models.model_set import ModelSet  # imported where loaded: torch and transformers
    from pe_search.models.text_encoder import TextModels
    from pe_search.models.text_graph import GraphTextModels

# Editors' formats (OpenTimelineIO), media decoding (PyAV) and the duplicate finder are imported
# by the methods that use them: a search process never does (issue 24, item 5).


class LibraryClosedError(PeSearchError):
    """A `Library` used after `close()` (or after its `with` block)."""

    def __init__(self, library_dir: str | Path) -> None:
        self.library_dir = str(library_dir)
        super().__init__(
            f"this Library ({self.library_dir}) was closed",
            "open it again with Library.open",
            value=self.library_dir,
        )


class Library:
    """A media library on disk: one directory with the SQLite database and the vector indexes.

    A thin front door: queries go to `pe_search.query.QueryService`, indexing to the indexer."""

    def __init__(
        self,
        path: Path,
        model=None,
        frame_model=None,
        device=None,
        dtype=None,
        *,
        frames: bool = True,
        batch_size: int = 8,
        fast: bool | None = None,
        default_model: str | Path | None = None,
        default_frame_model: str | Path | None = None,
        lean_queries: bool = False,
    ) -> None:
        self.path = path
        self._model_args = (model, frame_model)
        self._device, self._dtype = device, dtype
        self._frames, self._batch_size, self._fast = frames, batch_size, fast
        self._defaults = (default_model, default_frame_model)
        self._models: ModelSet | None = None
        self._lean_queries = lean_queries
        self._text_models: TextModels | GraphTextModels | None = None
        self._checked: set[int] = set()  # ids of the query models found to be the library's
        self._store: LibraryStore | None = None
        self._queries: QueryService | None = None
        # Threads may share a Library: the first use of the store or the models opens or loads
        # them once, under this lock, and the others wait for it.
        self._opening = threading.RLock()
        self._closed = False
        # Read stores an `index` run replaced while other threads may still be searching them:
        # closed with the Library, never under a reader (issue 27, defect 11).
        self._retired: list[LibraryStore] = []
        self._peaks: dict[tuple, Peaks] = {}  # waveform peaks by (path, size, mtime, bins)

    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        model: str | Path | None = None,
        frame_model: str | Path | None = None,
        device: str | None = None,
        dtype: str | None = None,
        *,
        frames: bool = True,
        batch_size: int = 8,
        fast: bool | None = None,
        default_model: str | Path | None = None,
        default_frame_model: str | Path | None = None,
        lean_queries: bool = False,
    ) -> Library:
        """Open the library at `path` (default: $PE_SEARCH_LIBRARY or ./pe-library).

        A library that does not exist yet is created on the first `.index()`, with `model`
        (and `frame_model` for 40 ms audio frames; default: the one paired with `model`, as
        toy-frame with toy, else `default_frame_model`). `frames=False`: no frame model.
        `default_model`: the model of a new library when `model` is None (a front door's default).
        `batch_size` and `fast` go to the encoders (`PeEncoder.from_pretrained`).
        `lean_queries`: a query of text alone loads the models' text side alone (no audio or
        video tower: seconds less to the first answer), for a process that answers a query or
        two and exits (the CLI's search); a process that goes on to other kinds of query loads
        the text side twice. The text side is the library's ONNX graphs when it has them for its
        models (`write_text_graph`; torch is then never imported), else the torch one."""
        library = cls(
            resolve_library_dir(None if path is None else str(path)),
            model,
            frame_model,
            device,
            dtype,
            frames=frames,
            batch_size=batch_size,
            fast=fast,
            default_model=default_model,
            default_frame_model=default_frame_model,
            lean_queries=lean_queries,
        )
        if not LibraryLayout(library.path).exists() and model is None and default_model is None:
            raise LibraryNotFoundError(library.path)
        return library

    # ------------------------------------------------------------------ plumbing
    @property
    def store(self) -> LibraryStore:
        with self._opening:
            self._check_open()
            if self._store is None:
                self._store = LibraryStore.open(self.path, readonly=True)
            return self._store

    def model_choice(self) -> ModelChoice:
        """The models this library uses (`pe_search.models.choice`: one rule for every front door)."""
        model, frame_model = self._model_args
        default_model, default_frame_model = self._defaults
        return choose_models(
            model,
            frame_model,
            self._recorded_models(),
            frames=self._frames,
            default_model=default_model,
            default_frame_model=default_frame_model,
        )

    def _recorded_models(self) -> tuple[str, ...]:
        """The model ids the library records. When the read-only open fails (a damaged vector
        file, another schema revision), the record is read on its own: the next index run then
        repairs the library with the model that built it, not a default. A record that cannot be
        read raises `ModelRecordError` (pass the model) unless a model was given."""
        if not LibraryLayout(self.path).exists():
            return ()
        try:
            identity = self.store.identity
        except PeSearchError as error:
            if self._model_args[0] is not None:  # told which: opening it for writing reports why
                return ()
            recorded = recorded_model_ids(self.path)  # raises ModelRecordError when unreadable
            if recorded or self._defaults[0] is not None:
                return recorded
            raise error
        if self._model_args[0] is None and self._defaults[0] is None:  # it must say which
            return self.store.require_identity().model_ids
        return identity.model_ids if identity else ()

    @property
    def models(self) -> ModelSet:
        """The models of this library (loaded on first use, once however many threads ask)."""
        with self._opening:
            self._check_open()
            if self._models is None:
                from pe_search.models.model_set import ModelSet

                choice = self.model_choice()
                self._models = ModelSet.load(
                    choice.model,
                    choice.frame_model,
                    device=self._device,
                    dtype=self._dtype,
                    batch_size=self._batch_size,
                    fast=self._fast,
                )
            return self._models

    @property
    def text_models(self) -> TextModels | GraphTextModels:
        """The text side of this library's models alone (loaded on first use, once): its ONNX
        graphs when the library has them for its models (`_text_graph`), else the torch text side."""
        with self._opening:
            self._check_open()
            if self._text_models is None:
                graphs = self._text_graph()
                if graphs is not None:
                    self._text_models = graphs
                    return graphs
                from pe_search.models.text_encoder import TextModels

                choice = self.model_choice()
                self._text_models = TextModels.load(
                    choice.model,
                    choice.frame_model,
                    device=self._device,
                    dtype=self._dtype,
                    batch_size=self._batch_size,
                )
            return self._text_models

    def _text_graph(self) -> GraphTextModels | None:
        """The library's text query graphs (`models/text_graph.py`: no torch imported), when it
        has them for its recorded models and this Library was opened with those models at full
        precision (no model, frame model or dtype given); else None."""
        if self._model_args != (None, None) or not self._frames or self._dtype not in FULL_PRECISION:
            return None
        from pe_search.models.text_graph import load_text_graph

        return load_text_graph(self.path, self.store.identity)

    def write_text_graph(self) -> Path:
        """(Re)write the library's text query graphs from its models (what `index` does when the
        library has none for its models): a text search then imports neither torch nor
        transformers. Returns the manifest's path. Raises `LibraryNotFoundError` for no library,
        `LibraryBusyError` while another process writes it (an index run)."""
        from pe_search.models.text_graph import MANIFEST, models_dir

        with self._opening:
            self.store.require_identity()  # an empty library has no models to export
        models = self.models
        self._the_librarys(models)
        # under the writer lock, as `index` writes them: two writers would race on the folder
        with disk_errors(self.path), WriterLock(LibraryLayout(self.path).lock):
            _export_text_graph(self.path, models)
        return models_dir(self.path) / MANIFEST

    def _the_librarys(
        self, models: ModelSet | TextModels | GraphTextModels
    ) -> ModelSet | TextModels | GraphTextModels:
        """`models`, once they are found to be the ones that built the library: vectors of
        another model share no space with the library's, so a query with them is refused
        (`ModelMismatchError`) rather than answered with meaningless hits."""
        with self._opening:
            if id(models) not in self._checked:
                stored = self.store.identity
                difference = None if stored is None else stored.difference(models.identity())
                if difference is not None:
                    raise ModelMismatchError(self.path, difference, querying=True)
                self._checked.add(id(models))
        return models

    @property
    def queries(self) -> QueryService:
        """The query entry point on this library's store (kept while the store is open)."""
        with self._opening:
            if self._queries is None or self._queries.store is not self.store:
                self._queries = QueryService(
                    self.store,
                    lambda: self._the_librarys(self.models),
                    (lambda: self._the_librarys(self.text_models)) if self._lean_queries else None,
                )
            return self._queries

    def close(self) -> None:
        """Release the library's files. A closed Library is done with: any later use raises
        `LibraryClosedError` (open the library again with `Library.open`), rather than silently
        reopening files the caller meant to let go of."""
        with self._opening:
            self._release()
            self._closed = True

    def _release(self) -> None:
        self._queries = None
        for store in [*self._retired, self._store]:
            if store is not None:
                store.close()
        self._retired, self._store = [], None

    def _retire_store(self) -> None:
        """Let the next use open the store afresh (an index run may have rebuilt or upgraded it),
        keeping the old one open for the threads that may be searching it right now: a read
        store follows the writer's commits like any other reader, so their answers stay whole."""
        with self._opening:
            if self._store is not None:
                self._retired.append(self._store)
            self._store, self._queries = None, None

    def _check_open(self) -> None:
        if self._closed:
            raise LibraryClosedError(self.path)

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    # ------------------------------------------------------------------ indexing
    def index(self, paths, **options):
        """Index media under `paths`; options as `indexer.pipeline.run_index`, plus window, hop,
        fps, frames_per_window, frame_chunk (default: the library's recorded settings), rebuild,
        and `on_message` (called with each note on what opening the library repaired or changed).
        `progress`: None shows a bar on a terminal, True always, False never; or a callable that
        receives the run's `indexer.events`. `ray`: decode and encode on a Ray cluster ("auto",
        "local", an address, or `indexer.distributors.ray.RayOptions`; docs/cluster.md).

        `vocabulary`: a vocabulary file (or `Vocabulary`) to tag with, recorded with the library
        (default: the recorded one, else the AudioSet ontology); every file gets its tags.

        `transcribe`: a Whisper-family checkpoint (hub id, directory, or "toy") to transcribe speech
        with, recorded with the library (default: the recorded one, else none); `language`: its
        code (default: detected per file); `rebuild_transcripts`: transcribe every file again (and
        accept another model than the recorded one) without encoding any vector again;
        `speech_gate=False` sends the whole sound to the model (docs/transcripts.md).

        Raises `InvalidIndexSettings` for impossible window/hop/frame values."""
        from indexer.pipeline import run_index

        vocabulary = options.pop("vocabulary", None)
        with ExitStack() as stack:
            store, settings, options, ctrl_c, bar = self._open_writer(stack, options)
            progress = options.pop("progress", None)
            try:
                tagger = build_tagger(store, self.models, choose_vocabulary(store, vocabulary))
                summary = run_index(
                    [str(p) for p in paths],
                    store,
                    self.models,
                    settings,
                    progress=bar or progress,
                    stop=ctrl_c.requested,
                    tagger=tagger,
                    **options,
                )
                if tagger is not None and not summary.interrupted:  # files indexed before tags, or retagged
                    update_tags(store, tagger, stop=ctrl_c.requested)
            finally:
                self._retire_store()
                if bar is not None:
                    bar.close()
        return summary

    def watch(self, paths, *, settle: float = 2.0, rescan: float = 600.0, **options) -> Watcher:
        """Keep the library in sync with `paths` (folders or files) as files appear, change,
        move and vanish, in a background thread; returns the started `indexer.watch.Watcher`:
        `stop()`, `wait()` (re-raises what ended it, as a full disk), `close()`, or use it as a
        context manager. A changed file is indexed once unchanged for `settle` seconds; changes
        that settle together go into one run; a full run starts the watch (catching up) and
        repeats every `rescan` seconds (events can be lost). `progress`: as for `index` (a
        callable also hears the watch's `indexer.events`: Watching, RunStarted, RunFinished);
        other options as `index` (not `rebuild`, `ray`). The watcher holds the library's writer
        lock until closed. Raises `WatchPathError` for a path missing or unreadable,
        `LibraryBusyError` when another process writes the library (docs/watch.md)."""
        from indexer.watch import Watcher, watched_roots

        for name, value in (("settle", settle), ("rescan", rescan)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise PeSearchError(
                    "{0} must be a number of seconds above 0", options=(Option(name),), value=value
                )
        if options.get("rebuild") or options.get("ray") is not None:
            raise PeSearchError("{0} is not for watching: run index with it first", options=(
                Option("rebuild" if options.get("rebuild") else "ray"),), value=True)  # fmt: skip
        roots = watched_roots(paths)
        vocabulary = options.pop("vocabulary", None)
        stack = ExitStack()
        try:
            store, settings, options, ctrl_c, bar = self._open_writer(stack, {**options, "stop": None})
            stack.callback(self._retire_store)
            if bar is not None:
                stack.callback(bar.close)
            progress = options.pop("progress", None)
            options["tagger"] = build_tagger(store, self.models, choose_vocabulary(store, vocabulary))
            return Watcher(
                roots,
                store,
                self.models,
                settings,
                settle=settle,
                rescan=rescan,
                run_options=options,
                progress=bar or progress,
                after_run=self._retire_store,
                on_close=stack.close,
                stop=ctrl_c.requested,  # a Ctrl-C (in the main thread) ends the watch cleanly
            ).start()
        except BaseException:
            stack.close()
            raise

    def check_transcription(
        self,
        *,
        transcribe: str | Path | None = None,
        language: str | None = None,
        rebuild_transcripts: bool = False,
    ) -> None:
        """Refuse now, in one line, the transcription options `index` would refuse: a checkpoint
        that is not a speech model, a language it does not know, another model than the library's
        without `rebuild_transcripts`, a language or a rebuild with no model at all. For a front
        door that runs `index` in the background (the server) and must answer before it starts.
        Loads the model (once per process: the run finds it loaded); writes nothing."""
        from indexer.transcribe import chosen_speech

        chosen_speech(
            self.store.transcription_model(),
            None if transcribe is None else str(transcribe),
            language,
            bool(rebuild_transcripts),
            None if self._device is None else str(self._device),
        )

    def _open_writer(self, stack: ExitStack, options: dict):
        """Open the store for writing (the writer lock) inside `stack`, with the run's settings:
        (store, settings, the options left for `run_index`, the Ctrl-C catcher, a progress bar or
        None). A full or read-only disk while open raises its one-line error."""
        from indexer.pipeline import StopOnCtrlC
        from indexer.settings import RECORDED, settings_for_library
        from indexer.transcribe import speech_for_library
        from pe_search.models.speech import load_speech_model

        options = dict(options)
        for name, least in (("batch_size", 1), ("workers", 0)):  # before anything is opened or made
            value = options.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
                raise PeSearchError(
                    f"{{0}} must be a whole number of at least {least}", options=(Option(name),), value=value
                )
        ray = options.pop("ray", None)
        if ray is not None:  # before any model is loaded: without Ray, the install line
            from indexer.distributors.ray import ray_distributor

            options["distributor"] = ray_distributor(ray)
        given = {k: options.pop(k) for k in list(options) if k in RECORDED}
        rebuild = options.pop("rebuild", False)
        speech = {
            k: options.pop(k, None) for k in ("transcribe", "language", "rebuild_transcripts", "speech_gate")
        }
        on_message: Callable[[str], None] | None = options.pop("on_message", None)
        progress = options.get("progress")
        bar = None if callable(progress) or progress is False else IndexProgressBar(progress)
        models = self.models  # first: choosing them may read the library's record
        if speech["transcribe"] is not None:  # a model that is not for speech, a language it does not know:
            model = load_speech_model(
                str(speech["transcribe"]), None if self._device is None else str(self._device)
            )
            model.check_language(speech["language"])  # refused before the library is opened or made
        ctrl_c = StopOnCtrlC(options.pop("stop", None))  # a Ctrl-C while opening stops the run cleanly
        stack.enter_context(disk_errors(self.path))  # a full or read-only disk: one line, not an OS error
        stack.enter_context(ctrl_c)
        store = stack.enter_context(
            LibraryStore.open(self.path, models.identity(), create=True, rebuild=rebuild)
        )
        _ensure_text_graph(self.path, models)  # the lean text search's graphs (models/text_graph.py)
        settings = settings_for_library(
            store,
            **given,
            rebuild=rebuild,
            frame_preprocessing=models.clip.frame_preprocessing,
            audio_frames=models.frames is not None,
        )
        plan = speech_for_library(
            store,
            None if speech["transcribe"] is None else str(speech["transcribe"]),
            speech["language"],
            bool(speech["rebuild_transcripts"]),
            device=None if self._device is None else str(self._device),
        )
        settings = replace(settings, speech=plan.source, speech_gate=speech["speech_gate"] is not False)
        options["rebuild_transcripts"] = plan.rebuild
        if on_message is not None:
            for message in store.messages:  # what opening repaired, upgraded or dropped
                on_message(message)
        return store, settings, options, ctrl_c, bar

    def status(self) -> LibraryStatus:
        return self.store.status()

    def damaged_frames(self) -> list[DamagedFrames]:
        """Files whose stored frames were found damaged (on opening, or by a query that read
        them): their frames are left out of `locate` and frame search until `index` encodes
        them again. Each names the file, the frame space and what is wrong."""
        return list(self.store.damaged_frames())

    # ------------------------------------------------------------------ tags
    def vocabulary(self) -> Vocabulary:
        """The vocabulary the library is tagged with (the AudioSet ontology unless another was given)."""
        return from_record(self.store.recorded_vocabulary())

    def tags(self) -> TagListing:
        """Every label of the vocabulary with the number of files tagged with it or any label below
        it, and how many files are tagged so far."""
        vocabulary = self.vocabulary()
        return listing(self.store, vocabulary, current_key(self.store, vocabulary))

    def file_tags(self, file: str | Path | int) -> list[Tag]:
        """A file's tags, best first (label, probability); `file` is its path or media id. An
        untagged file has none (`update_tags` tags it)."""
        media = self._indexed(file)
        vocabulary = self.vocabulary()
        return named(vocabulary, self.store.file_tags(media.id, current_key(self.store, vocabulary)) or [])

    def update_tags(
        self,
        vocabulary: str | Path | Vocabulary | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
        stop: threading.Event | None = None,
    ) -> TagUpdate:
        """Tag every file not tagged under the library's vocabulary from its stored vectors (no
        media decoded). `vocabulary`: a file (or `Vocabulary`) to use from now on; changing it
        retags every file. Resumable: a stopped run leaves what it wrote; the next does the rest.
        `progress(done, total)` after each batch of files."""
        models = self.models
        with disk_errors(self.path), LibraryStore.open(self.path, models.identity(), create=False) as store:
            try:
                tagger = build_tagger(store, models, choose_vocabulary(store, vocabulary))
                if tagger is None:
                    raise PeSearchError(
                        f"the models of {self.path} compute no text-audio embedding to tag with",
                        "tag a library built with an audio model",
                    )
                return update_tags(store, tagger, progress=progress, stop=stop)
            finally:
                self._retire_store()

    def _indexed(self, file: str | Path | int) -> MediaInfo:
        """The library's record of a file given by media id or path; refused when it has none."""
        if isinstance(file, int) and not isinstance(file, bool):
            media = self.store.get_media(file)
        else:
            given = Path(file).expanduser()
            names = [str(given.absolute()), str(given.resolve())]
            media = next((m for m in map(self.store.find_media, names) if m is not None), None)
        if media is None:
            raise PeSearchError(
                f"{file} is not in the library",
                "index it first, or give a path the library lists",
                value=str(file),
            )
        return media

    # ------------------------------------------------------------------ queries
    def search(
        self,
        text: str | None = None,
        *,
        audio=None,
        video=None,
        like: str | tuple[str, float, float] | None = None,
        target: str | None = params.TARGET.default,
        k: int = params.K.default,
        offset: int = params.OFFSET.default,
        min_prob: float | None = params.MIN_PROB.default,
        all_segments: bool = params.ALL_SEGMENTS.default,
        kinds: tuple[str, ...] | None = None,
        path_prefix: str | None = None,
        path_glob: str | None = None,
        min_duration: float | None = None,
        max_duration: float | None = None,
        modified_after: float | None = None,
        modified_before: float | None = None,
        mode: str = params.MODE.default,
        tag: str | None = params.TAG.default,
    ) -> list[Hit]:
        """Search the library. `audio`/`video`: a file path, or (array, rate) / (frames uint8, fps).

        `target` is audio, video or audio_video (default: text searches audio and video and
        merges them by probability; audio searches video; video searches audio). `mode`: vector
        (the model alone), text (names, folders, tags, subtitles, transcripts, .txt sidecars; words
        in double quotes are an exact phrase) or hybrid (both, fused by reciprocal rank; the
        default). Each hit's `why` says why it matched; a hit on spoken words lands on them and
        carries them with their times (`Hit.words`). `tag`: only
        files tagged with that label or any label below it; each hit carries its file's best `tags`."""
        filters = _search_filter(
            kinds, path_prefix, path_glob, min_duration, max_duration, modified_after, modified_before
        )
        request = QueryRequest(
            text, audio, video, like, target, filters, k, offset, min_prob, all_segments, mode=mode, tag=tag
        )  # fmt: skip
        return self.queries.search(request)

    def facets(self, results: list[Hit] | list[LocatedSpan]) -> list[TagCount]:
        """Tag counts over the results' files (each file once), most first: what to narrow by."""
        ids = [r.media_id for r in results if isinstance(r, Hit)]
        paths = [r.path for r in results if isinstance(r, LocatedSpan)]
        ids += [m.id for m in map(self.store.find_media, paths) if m is not None]
        return facets(self.store, ids)

    def duplicates(
        self, kind: str | None = None, damaged: Callable[[str], None] | None = None
    ) -> list[DuplicateGroup]:
        """Groups of files holding the same recording (exact copies and copies in other forms),
        each with the file to keep first; `kind` "audio" or "video" for one kind only. A file
        whose stored fingerprint is damaged is left out of the matching and passed to `damaged`
        (the next `index` recomputes it), as `pe-search duplicates` names it."""
        if kind not in (None, "audio", "video"):
            raise ValueError(f"kind must be audio or video, got {kind!r}")
        from pe_search.duplicates.groups import find_duplicates, open_for_duplicates

        self._check_open()
        with open_for_duplicates(self.path) as store:  # keeps what it learnt for the next run
            return find_duplicates(store, kind, damaged=damaged)

    def locate(
        self,
        text: str,
        path: str | Path | None = None,
        threshold: float = params.THRESHOLD.default,
        min_duration: float = params.SPAN_MIN_DURATION.default,
        k: int = params.LOCATE_K.default,
        tag: str | None = params.TAG.default,
    ) -> list[LocatedSpan]:
        """Where does `text` happen: spans across the library (`tag`: only in files tagged with
        that label or one below it), or inside one file (encoded on the fly if it is not in the
        library)."""
        request = QueryRequest(text, k=k, locate=Locate(path, threshold, min_duration), tag=tag)
        return self.queries.locate(request)

    def export(
        self,
        results: list[Hit] | list[LocatedSpan],
        path: str | Path,
        format: str | None = None,
        *,
        handles: float = 0.0,
        markers_only: bool = False,
        force: bool = False,
        query: str | None = None,
    ) -> ExportReport:
        """Write `results` (of `search` or `locate`) for an editor: .otio, .fcpxml, .xml (FCP7:
        Premiere Pro, Resolve), .edl, .csv, .json, or .vtt/.srt for one file's spans; `format`
        overrides the extension. Clips sit at each file's source timecode; `handles` seconds of
        media each side; `markers_only`: one clip per file with a marker at each result. `query`
        is written with each result. Files gone or changed since indexing are left out and
        listed in the report, spans past a file's end clamped and noted; raises `ExportError`
        (nothing written) for an unknown format, an existing output without `force`, an output
        that cannot be written, or nothing left to export."""
        from pe_search.export import Layout, export_results

        facts = {path_: self._file_facts(path_) for path_ in {result.path for result in results}}
        layout = Layout(handles=handles, markers_only=markers_only)
        said = self._said(results)
        return export_results(
            results, path, facts, format=format, layout=layout, force=force, query=query, said=said
        )

    def _said(self, results: list[Hit] | list[LocatedSpan]) -> list[str | None]:
        """Per result, the spoken words a transcript hit matched, which name its marker and clip
        (None for every other result): the hit's own `words`, else the transcript's words in its
        range when the text gave its time (a hit the vectors placed keeps its segment's range,
        which is not the words')."""
        from pe_search.export.transcripts import TRANSCRIPT_FIELD, words_between

        transcripts: dict[int, TranscriptRecord | None] = {}
        said: list[str | None] = []
        for result in results:
            words = result.words if isinstance(result, Hit) else ()
            why = result.why if isinstance(result, Hit) else None
            timed_by_text = (
                why is not None and why.text_field == TRANSCRIPT_FIELD and result.segment_id is None
            )
            if not words and timed_by_text:
                if result.media_id not in transcripts:
                    transcripts[result.media_id] = self.store.transcript(result.media_id)
                words = words_between(transcripts[result.media_id], result.start, result.end)
            said.append(" ".join(word.text for word in words) or None)
        return said

    def _file_facts(self, path: str) -> FileFacts | None:
        """What the library recorded of a file (a file it has not indexed: what its headers say)."""
        from pe_search.export import FileFacts
        from pe_search.media.probe import probe

        media = self.store.find_media(path)
        if media is not None:
            return FileFacts(media.duration, media.kind, media.size, media.mtime)
        try:
            probed = probe(path)
        except PeSearchError:
            return None
        return FileFacts(probed.duration, "video" if probed.has_video else "audio")

    def curve(self, text: str, media_id: int) -> FrameCurve:
        """The frame-level probability of `text` across one indexed file (its 40 ms audio frames,
        else its video frames), for a timeline; `.spans(threshold)` gives what `locate` would."""
        return frame_curve(self.queries.engine, self.models, text, media_id)

    def events(
        self,
        file: str | Path | int,
        *,
        labels: list[str] | str | None = None,
        vocabulary: str | Path | Vocabulary | None = None,
        threshold: float = params.THRESHOLD.default,
        min_duration: float = params.SPAN_MIN_DURATION.default,
    ) -> EventTimeline:
        """The event timeline of one indexed file (a path, or its id): for each label, the spans
        where the frame model's probability passes `threshold`, merged as `locate` merges them, in
        time order. `labels`: only these (a list, or one comma-separated string; as the vocabulary
        names them, an unknown one is refused with the closest labels); `vocabulary`: a file (one
        label per line, or JSON) or a `Vocabulary` (default: the library's recorded vocabulary,
        the AudioSet ontology unless another was given); every tag of it when no `labels`."""
        if not params.THRESHOLD.above < threshold < params.THRESHOLD.below:
            raise QueryError(
                f"{{0}} must be {params.THRESHOLD.bounds_text()}",
                options=(Option("threshold"),),
                value=threshold,
            )
        if min_duration < 0:
            raise QueryError("{0} must be at least 0", options=(Option("min_duration"),), value=min_duration)
        if not isinstance(vocabulary, Vocabulary):
            vocabulary = self.vocabulary() if vocabulary is None else load_vocabulary(vocabulary)
        if isinstance(labels, str):
            labels = split_labels(labels, vocabulary)
        names = chosen_labels(vocabulary, labels)  # a mistake in the labels before any model loads
        media = self._indexed(file)
        engine, models = self.queries.engine, self.models
        exact = ChunkReencoder.for_library(self.store, models.frames)
        return file_events(
            engine, models, media.id, names, threshold, min_duration, exact, vocabulary=vocabulary
        )

    def export_events(
        self, timeline: EventTimeline, path: str | Path, *, force: bool = False
    ) -> CaptionReport:
        """Write a file's events (of `events`) as captions, "[Dog barking]", to a .vtt or .srt file;
        overlapping events stay separate, overlapping cues. An existing file is refused unless
        `force`."""
        from pe_search.export.captions import write_captions

        return write_captions(timeline.events, path, timeline.path, timeline.duration, force=force)

    def transcript(self, file: str | Path | int) -> FileTranscript:
        """What is said in one indexed file (a path, or its id): its phrases with every word's
        start and end in seconds, the model that heard them, and whether the transcript is
        complete (`record.reason` says why not). `record` is None for a file not transcribed
        (index with `transcribe=`); a file not in the library is refused."""
        from pe_search.export.transcripts import FileTranscript

        media = self._indexed(file)
        return FileTranscript(media.path, media.id, media.duration, self.store.transcript(media.id))

    def export_transcript(
        self, transcript: FileTranscript, path: str | Path, *, force: bool = False
    ) -> CaptionReport:
        """Write a file's transcript (of `transcript`) to a .srt or .vtt file (a cue per phrase)
        or a .txt file (a line per phrase with its times). An existing file is refused unless
        `force`."""
        from pe_search.export.transcripts import write_transcript

        return write_transcript(transcript, path, force=force)

    def peaks(self, file: str | Path | int, bins: int) -> Peaks:
        """(min, max) of the file's decoded audio in `bins` equal slices of it, for drawing its
        waveform; kept in memory for the file as it is now (size and modification time)."""
        media = self._indexed(file)
        key = (media.path, media.size, media.mtime, bins)
        with self._opening:
            found = self._peaks.get(key)
        if found is None:
            from pe_search.media.peaks import waveform_peaks

            found = waveform_peaks(media.path, bins, media.duration or 0.0)
            with self._opening:
                self._peaks[key] = found
                while len(self._peaks) > CACHED_PEAKS:
                    self._peaks.pop(next(iter(self._peaks)))
        return found

    def file(self, media_id: int) -> MediaInfo | None:
        """The library's record of one file, by its id (`Hit.media_id`)."""
        return self.store.get_media(media_id)

    def files(
        self,
        *,
        kinds: tuple[str, ...] | None = None,
        path_prefix: str | None = None,
        path_glob: str | None = None,
        min_duration: float | None = None,
        max_duration: float | None = None,
        modified_after: float | None = None,
        modified_before: float | None = None,
        statuses: tuple[str, ...] | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[int, list[MediaInfo]]:
        """One page of the library's files (filters as `search`), ordered by path: (total, page)."""
        if offset < 0 or limit < 1:
            raise QueryError("offset must be at least 0 and limit at least 1")
        filters = _search_filter(
            kinds, path_prefix, path_glob, min_duration, max_duration, modified_after, modified_before
        )
        return self.store.list_media(filters, tuple(statuses) if statuses else None, offset, limit)

    # ------------------------------------------------------------------ trimmed clips
    def clip(
        self,
        path: str | Path,
        start: float,
        end: float,
        out: str | Path,
        *,
        handles: float = params.HANDLES.default,
        force: bool = False,
    ) -> TrimmedClip:
        """Write [start - handles, end + handles) of `path` (indexed or not) to `out`, its format
        from its extension: WAV/FLAC cut sample-accurately, other media stream-copied when the cut
        falls on a keyframe, else re-encoded (`pe_search.media.trim`). The source is never written;
        an existing `out` is refused unless `force`; a span past the file's end is clamped and
        `TrimmedClip.note` says so. The source path and offsets go into the clip's metadata."""
        from pe_search.media.trim import write_clip

        return write_clip(
            path, start, end, out, handles=handles, force=force, source_timecode=self._source_timecode(path)
        )

    def clips(
        self,
        results: list[Hit] | list[LocatedSpan],
        folder: str | Path,
        *,
        handles: float = params.HANDLES.default,
        force: bool = False,
    ) -> list[TrimmedClip | PeSearchError]:
        """One clip per search hit or located span in `folder` (named by rank, file and span), in
        the source's own format; a result whose file cannot be cut (gone, changed) gets its error
        in its place and the others are still written."""
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise PeSearchError(f"{folder} is not a folder", "create it first", value=str(folder))
        written: list[TrimmedClip | PeSearchError] = []
        for rank, result in enumerate(results, start=1):
            try:
                written.append(
                    self.clip(result.path, result.start, result.end,
                              folder / clip_name(result.path, result.start, result.end, rank),
                              handles=handles, force=force)
                )  # fmt: skip
            except PeSearchError as error:
                written.append(error)
        return written

    def _source_timecode(self, path: str | Path) -> SourceTimecode | None:
        """The file's start timecode as the library read it at index time (None for a file it has
        not indexed or read no timecode of), for the clip's metadata."""
        given = Path(path).expanduser()
        names = [str(given.absolute()), str(given.resolve())]  # a link is stored under its own name
        found = self.store.timecodes_by_path(names)
        return next((found[name] for name in names if name in found), None)


def clip_name(path: str | Path, start: float, end: float, rank: int | None = None) -> str:
    """`03-door-slam-12.480-13.120.wav`: rank, the source's name, the span, the source's format."""
    source = Path(path)
    name = f"{source.stem}-{start:.3f}-{end:.3f}{source.suffix.lower()}"
    return name if rank is None else f"{rank:02d}-{name}"


def _search_filter(
    kinds, path_prefix, path_glob, min_duration, max_duration, modified_after, modified_before
) -> SearchFilter:
    """The filters `search` and `files` share, as the store takes them."""
    return SearchFilter(
        kinds=tuple(kinds) if kinds else None,
        path_prefix=path_prefix,
        path_glob=path_glob,
        min_duration=min_duration,
        max_duration=max_duration,
        modified_after=modified_after,
        modified_before=modified_before,
    )


def _export_text_graph(library: Path, models: ModelSet) -> None:
    """Export the text side of `models` (clip model first) as the library's text graphs."""
    from pe_search.models.text_graph_export import text_encoders, write_text_graph

    write_text_graph(
        library, text_encoders([e.identity.directory for e in models.encoders]), models.identity()
    )


def _ensure_text_graph(library: Path, models: ModelSet) -> None:
    """Write the library's text graphs unless it has them for `models` (or PE_SEARCH_TEXT_GRAPH=0).
    A failed export costs the text search its speed, never the index run: it is logged and the
    run goes on."""
    from pe_search.models.text_graph import Manifest

    if os.environ.get("PE_SEARCH_TEXT_GRAPH", "1") == "0":
        return
    manifest = Manifest.read(library)
    if manifest is not None and manifest.matches(models.identity()):
        return
    try:
        _export_text_graph(library, models)
    except Exception as error:  # noqa: BLE001 (the exporter raises many types; the index is unharmed)
        log.warning(
            "the text query graphs of %s were not written (%s): text searches load torch", library, error
        )
