"""The stage that turns file jobs into encoded files: decode (`reader.read_file`) + encode
(`encode.BatchEncoder`), batching windows across files, and handing each file on once complete.

`read` is the decode half (it may run in another process or on another machine: a distributor
decides), and it also reads what the library keeps besides vectors (tags, sidecar text, audio
fingerprint: `FileDecoded.side`); `encode` takes the decoded payloads, in any interleaving of
files, and yields each file's outcome: an `EncodedFile` (vectors and side data) for the writer,
which only writes it, or a `FileFailure`.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from indexer.encode import BatchEncoder, EncodedChunk, EncodedWindow
from indexer.reader import (
    FileDecoded,
    FileFailed,
    FileJob,
    FileStarted,
    FrameChunkPayload,
    Payload,
    WindowPayload,
    read_file,
)
from indexer.settings import IndexSettings
from indexer.transcribe import SpeechPayload, transcript_of
from indexer.write import EncodedFile
from pe_search.models.model_set import ModelSet


@dataclass(frozen=True)
class FileFailure:
    """A file that could not be decoded, with the reason the library records."""

    job: FileJob
    reason: str


FileOutcome = EncodedFile | FileFailure


class EncodeStage:
    """Decode + encode for one run. `on_media(total_media_seconds, elapsed)` after each batch;
    `stop` (set by Ctrl-C) ends `encode` after the current batch, with `interrupted` set."""

    def __init__(
        self,
        models: ModelSet,
        settings: IndexSettings,
        batch_size: int = 8,
        stop: threading.Event | None = None,
        on_media: Callable[[float, float], None] | None = None,
    ) -> None:
        self.models = models
        self.settings = settings
        self.batch_size = batch_size
        self.stop = stop or threading.Event()
        self.on_media = on_media
        self.media_seconds = 0.0
        self.interrupted = False
        self._speech = None

    @property
    def speech(self):
        """The run's speech model, loaded once in the process that encodes (None: no transcripts)."""
        if self._speech is None and self.settings.speech is not None:
            device = getattr(self.models.clip, "device", None)
            self._speech = self.settings.speech.load(None if device is None else str(device))
        return self._speech

    def read(self, job: FileJob) -> Iterator[Payload]:
        """The decode half: one file's payloads, in order."""
        return read_file(job, self.settings)

    def encode(self, payloads: Iterable[Payload], jobs: Sequence[FileJob]) -> Iterator[FileOutcome]:
        """The encode half: each file's outcome as soon as all of it is encoded."""
        encoder = BatchEncoder(self.models, self.batch_size)
        by_path = {job.path: job for job in jobs}
        files: dict[str, EncodedFile] = {}
        expected: dict[str, tuple[int, int]] = {}
        covered: dict[str, float] = defaultdict(float)  # media seconds encoded so far, per file
        started = time.perf_counter()

        def take(results: list[EncodedWindow | EncodedChunk]) -> list[EncodedFile]:
            for result in results:
                encoded = files.get(result.path)
                if encoded is None:
                    continue  # its file failed meanwhile
                if isinstance(result, EncodedWindow):
                    encoded.windows.append(result)
                    gained = max(0.0, result.end - max(result.start, covered[result.path]))
                    covered[result.path] = max(covered[result.path], result.end)
                    self.media_seconds += gained
                else:
                    encoded.chunks.append(result)
            complete = [p for p in expected if _complete(files[p], expected[p])]
            for path in complete:
                expected.pop(path)
            if self.on_media is not None:
                self.on_media(self.media_seconds, time.perf_counter() - started)
            return [files.pop(path) for path in complete]

        for payload in payloads:
            if isinstance(payload, FileStarted):
                info = payload.info
                files[payload.job.path] = EncodedFile(
                    payload.job,
                    info.has_audio,
                    info.has_video,
                    payload.duration,
                    speech_only=self.settings.speech_only,
                )
            elif isinstance(payload, (WindowPayload, FrameChunkPayload)):
                yield from take(encoder.add(payload))
            elif isinstance(payload, SpeechPayload):
                encoded = files.get(payload.path)
                if encoded is not None:
                    encoded.transcribed = True
                    if payload.seconds or payload.reason:  # no sound: no transcript
                        encoded.transcript = transcript_of(self.speech, payload, self.settings.speech.language)
            elif isinstance(payload, FileDecoded):
                files[payload.path].partial = payload.partial
                files[payload.path].side = payload.side
                expected[payload.path] = (payload.windows, payload.chunks)
                yield from take([])
            elif isinstance(payload, FileFailed):
                started_file = files.pop(payload.path, None)
                expected.pop(payload.path, None)
                encoder.drop(payload.path)
                job = started_file.job if started_file is not None else by_path[payload.path]
                yield FileFailure(job, payload.reason)
            if self.stop.is_set():
                self.interrupted = True
                return
        yield from take(encoder.flush())


def _complete(encoded: EncodedFile, expected: tuple[int, int]) -> bool:
    windows, chunks = expected
    return len(encoded.windows) == windows and len(encoded.chunks) == chunks
