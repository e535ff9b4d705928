"""A `Library` shared by threads: the first searches load the models once, under a lock, and
loading never swaps the process's stdout (issue 14, defect 7)."""

from __future__ import annotations

import sys
import threading

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
