"""A `Library` shared by threads: the first searches load the models once, under a lock, and
loading never swaps the process's stdout (issue 14, defect 7)."""

from __future__ import annotations

import shutil
import sys
import threading
from pathlib import Path

import pytest

from pe_search import Library
from testkit import media


@pytest.fixture(scope="module")
def library_dir(tmp_path_factory, checkpoint_dirs):
    root = tmp_path_factory.mktemp("threads")
    folder = root / "media"
    folder.mkdir()
    for number, freq in enumerate((330, 550, 770)):
        media.write_audio(folder / f"tone{number}.wav", media.tone(freq, 1.2, 48_000), 48_000)
    with Library.open(
        root / "library", model=checkpoint_dirs["audio_video"], frame_model=checkpoint_dirs["audio_frame"]
    ) as library:
        library.index([folder], workers=0, window=1.0, hop=0.5, progress=False)
    return root / "library"


def test_threads_searching_a_fresh_library_get_the_serial_answer(library_dir):
    with Library.open(library_dir) as library:
        expected = [(h.path, h.start, round(h.score, 4)) for h in library.search("a tone", target="audio")]
    original_stdout = sys.stdout
    swapped = threading.Event()
    done = threading.Event()

    def watch() -> None:  # loading must never replace sys.stdout, even for a moment
        while not done.is_set():
            if sys.stdout is not original_stdout:
                swapped.set()
            done.wait(0.0005)

    results: dict[int, object] = {}
    with Library.open(library_dir) as library:  # fresh: nothing loaded yet
        start = threading.Barrier(4)

        def search(number: int) -> None:
            start.wait()
            try:
                hits = library.search("a tone", target="audio")
                results[number] = [(h.path, h.start, round(h.score, 4)) for h in hits]
            except Exception as error:  # noqa: BLE001  (the test reports what a thread met)
                results[number] = error

        watcher = threading.Thread(target=watch)
        watcher.start()
        threads = [threading.Thread(target=search, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done.set()
        watcher.join()
    assert all(result == expected for result in results.values()), results
    assert len(results) == 4
    assert not swapped.is_set(), "sys.stdout was swapped while the models loaded"


class _Tokenizer:
    """The named point inside the clip encoder: wraps its tokenizer, counts the threads inside it
    at once, and holds the first call of `hold` there until `go` is set."""

    def __init__(self, real, hold: threading.Thread, inside: threading.Event, go: threading.Event) -> None:
        self.real, self.hold, self.inside, self.go = real, hold, inside, go
        self.count, self.most, self.held = 0, 0, False
        self.guard = threading.Lock()

    def __call__(self, *args, **kwargs):
        with self.guard:
            self.count += 1
            self.most = max(self.most, self.count)
            if self.count > 1:
                self.go.set()  # another thread got in beside the held one: that is the defect
        try:
            if threading.current_thread() is self.hold and not self.held:
                self.held = True
                self.inside.set()
                self.go.wait()  # until another thread queues behind it (or got in beside it)
            return self.real(*args, **kwargs)
        finally:
            with self.guard:
                self.count -= 1


def _answers(hits) -> list[tuple]:
    return [(h.path, h.start, h.end, round(h.probability or 0.0, 4)) for h in hits]


def test_index_text_audio_and_locate_in_threads_at_forced_interleavings(library_dir, tmp_path, monkeypatch):
    """Issue 27, defect 11. Forced, not hoped for: (1) a text search is held inside the clip
    encoder's tokenizer until a locate and an audio search are queued behind it (the encoder's
    lock says when a thread waits) or got in beside it; (2) the audio search is then held inside
    its store search while another thread indexes new files to the end, and only then resumes on
    the store it started with. Every call answers, and the held-apart ones as a serial run does."""
    from pe_search.models import loading, towers
    from pe_search.models.serial import EncoderLock
    from pe_search.store import LibraryStore

    library = tmp_path / "library"
    shutil.copytree(library_dir, library)
    more = tmp_path / "more"
    more.mkdir()
    for number in range(3):
        media.write_audio(more / f"new{number}.wav", media.tone(400 + 150 * number, 1.2, 48_000), 48_000)
    query = str(tmp_path / "query.wav")
    media.write_audio(Path(query), media.tone(550, 1.0, 48_000), 48_000)
    with Library.open(library) as serial:
        expected_text = _answers(serial.search("a tone", target="audio"))
        expected_spans = _answers(serial.locate("a tone"))

    go, text_inside, audio_held, index_done = (threading.Event() for _ in range(4))
    results: dict[str, object] = {}
    tokenizers: list[_Tokenizer] = []

    class WatchedLock(EncoderLock):  # a thread queued behind the held one lets it go
        def __init__(self) -> None:
            super().__init__()
            self.contended = go

    monkeypatch.setattr(towers, "EncoderLock", WatchedLock, raising=False)
    real_tokenizer = loading.load_tokenizer

    def load_tokenizer(directory):
        tokenizers.append(_Tokenizer(real_tokenizer(directory), threads["text"], text_inside, go))
        return tokenizers[-1]

    monkeypatch.setattr(loading, "load_tokenizer", load_tokenizer)
    real_search = LibraryStore.search
    held = []

    def search(store, *args, **kwargs):
        if threading.current_thread() is threads["audio"] and not held:
            held.append(store)
            audio_held.set()
            index_done.wait()  # the whole index run happens here
        return real_search(store, *args, **kwargs)

    monkeypatch.setattr(LibraryStore, "search", search)

    shared = Library.open(library)  # fresh: no model loaded, no store open
    calls = {
        "text": lambda: _answers(shared.search("a tone", target="audio")),
        "locate": lambda: _answers(shared.locate("a tone")),
        "audio": lambda: _answers(shared.search(audio=query, target="audio")),
        "index": lambda: shared.index([more], workers=0, window=1.0, hop=0.5, progress=False),
    }

    def run(name: str) -> None:
        try:
            results[name] = calls[name]()
        except Exception as error:  # noqa: BLE001  (the test reports what a thread met)
            results[name] = error
        finally:
            go.set()  # a thread that ended early never leaves the held one waiting

    threads = {name: threading.Thread(target=run, args=(name,)) for name in calls}
    try:
        threads["text"].start()
        text_inside.wait()  # the text search is inside the clip tokenizer, models loaded
        threads["locate"].start()
        threads["audio"].start()
        threads["text"].join()
        threads["locate"].join()
        audio_held.wait()  # the audio search holds the store it searches
        threads["index"].start()
        threads["index"].join()
        index_done.set()
        threads["audio"].join()
        status = shared.status()
    finally:
        index_done.set()
        go.set()
        shared.close()
    errors = {name: repr(result) for name, result in results.items() if isinstance(result, Exception)}
    assert not errors
    assert max(t.most for t in tokenizers) == 1, "two threads were inside one tokenizer at once"
    assert results["text"] == expected_text and results["locate"] == expected_spans
    assert results["index"].files_indexed == 3
    assert status.media_by_status == {"indexed": 6}
    assert results["audio"] and {Path(hit[0]).name for hit in results["audio"]} <= {
        *(p.name for p in (library_dir.parent / "media").iterdir()),
        *(p.name for p in more.iterdir()),
    }
