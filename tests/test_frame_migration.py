"""A library written in the format before frame blocks (frame rows, SPACE.f32, a FAISS index of
frames) converts into blocks when opened for writing, resumes when interrupted, and answers
search and locate as before; the default code gives the spans float32 gives."""

from __future__ import annotations

import numpy as np
import pytest

from indexer import write
from pe_search import Library
from pe_search.query.spans import frames_to_spans
from pe_search.store import LibraryStore
from pe_search.store import frame_migration as migration
from testkit import media
from testkit.legacy_frames import downgrade_to_legacy, write_file_legacy

TEXT = "a dog barking"


class Interrupted(RuntimeError):
    pass


def _folder(root):
    root.mkdir()
    for i, freq in enumerate((220, 660, 1500)):
        media.write_audio(root / f"tone{i}.wav", media.tone(freq, 1.6 + 0.4 * i, 48_000), 48_000)
    media.write_audio(root / "noise.wav", media.noise(2.2, 48_000, seed=3), 48_000)
    frames = [(media.moving_square_frame(5 * i), i / 10) for i in range(16)]
    media.write_video(root / "square.mp4", frames, audio=media.tone(330, 1.6, 48_000))
    return root


def _threshold(probabilities: np.ndarray) -> float:
    """A threshold in the widest gap between the middle frames' probabilities: each side of it
    is decided by float32 with room to spare, so any code error large enough to move a frame
    across shows."""
    ordered = np.sort(probabilities)
    middle = ordered[len(ordered) // 4 : 3 * len(ordered) // 4 + 1]
    gap = int(np.argmax(np.diff(middle)))
    return float((middle[gap] + middle[gap + 1]) / 2)


def _expected_spans(library: Library, threshold: float) -> dict[str, list[tuple[float, float]]]:
    """Spans as the code before blocks computed them: every frame row's float32 vector, scored."""
    query = library.models.frames.embed_text([TEXT], ["text_audio_frame"])["text_audio_frame"][0]
    calibration = library.models.frames.calibration("text_audio_frame")
    expected = {}
    for media_info in library.store.iter_media():
        frames = library.store.segment_vectors(media_info.id, "audio_frame")
        probabilities = calibration.probability(frames.vectors @ query)
        expected[media_info.path] = [
            (round(s.start, 4), round(s.end, 4))
            for s in frames_to_spans(frames.starts, frames.ends, probabilities, threshold)
        ]
    return expected


def _all_probabilities(library: Library) -> np.ndarray:
    query = library.models.frames.embed_text([TEXT], ["text_audio_frame"])["text_audio_frame"][0]
    calibration = library.models.frames.calibration("text_audio_frame")
    scores = [
        library.store.segment_vectors(m.id, "audio_frame").vectors @ query for m in library.store.iter_media()
    ]
    return calibration.probability(np.concatenate(scores))


def _moment(hit):
    return (round(hit.moment.start, 6), round(hit.moment.end, 6)) if hit.moment else None


def test_todays_format_converts_to_blocks_and_answers_the_same(tmp_path, checkpoint_dirs, monkeypatch):
    folder = _folder(tmp_path / "media")
    root = tmp_path / "lib"
    monkeypatch.setattr(write, "write_file", write_file_legacy)  # the writing stage as it was
    library = Library.open(
        root, model=checkpoint_dirs["audio_video"], frame_model=checkpoint_dirs["audio_frame"]
    )
    summary = library.index([folder], workers=0, progress=False, window=1.0, hop=0.5, frames_per_window=4)
    monkeypatch.undo()
    assert summary.files_indexed == 5 and not summary.failed
    frame_rows = library.store.counts()["audio_frame"]
    assert frame_rows == summary.vectors["audio_frame"] > 200  # today's format: one row per frame
    threshold = _threshold(_all_probabilities(library))
    expected = _expected_spans(library, threshold)
    assert sum(len(spans) for spans in expected.values()) >= 2
    before = library.search(TEXT, k=10)
    assert any(hit.moment is not None for hit in before)
    library.close()
    downgrade_to_legacy(root)
    assert (root / "vectors" / "audio_frame.f32").exists()

    converted = []
    original = migration.convert_file

    def interrupted(*args):
        if len(converted) == 2:
            raise Interrupted("killed part way")
        converted.append(args[3])
        return original(*args)

    monkeypatch.setattr(migration, "convert_file", interrupted)
    with pytest.raises(Interrupted):
        LibraryStore.open(root)
    monkeypatch.undo()
    with LibraryStore.open(root, readonly=True) as store:  # two files done, the rest still rows
        assert store.frame_counts()["audio_frame"] + store.counts()["audio_frame"] == frame_rows
        assert len(store.frame_blocks("audio_frame")) == 2
    heard = []
    with LibraryStore.open(root, progress=heard.append) as store:
        assert any("3/3 files converted" in line for line in heard)
        assert any("converted" in message and "audio_frame.f32" in message for message in store.messages)
        status = store.status()
        assert "audio_frame" not in status.spaces and "video_frame" not in status.spaces
        assert status.frames["audio_frame"].frames == frame_rows
        assert status.frames["audio_frame"].blocks == 5 and status.frames["video_frame"].blocks == 1
    assert not (root / "vectors" / "audio_frame.f32").exists()
    assert not (root / "vectors" / "audio_frame.index").exists()

    library = Library.open(root)
    after = library.search(TEXT, k=10)
    assert [(h.path, h.start, h.end) for h in after] == [(h.path, h.start, h.end) for h in before]
    np.testing.assert_allclose([h.score for h in after], [h.score for h in before], rtol=1e-5)
    # the moment (best frame inside each hit) from the block's slice, as from the frame rows: the
    # same frame, or, where frames of a steady tone tie to within the 8-bit code, one as good
    for old, new in zip(before, after, strict=True):
        assert (old.moment is None) == (new.moment is None)
        if old.moment is not None and _moment(old) != _moment(new):
            assert old.start <= new.moment.start < old.end
            assert abs(new.moment.score - old.moment.score) <= 1e-2 * max(1.0, abs(old.moment.score))
    assert sum(_moment(a) == _moment(b) for a, b in zip(before, after, strict=True)) >= len(before) // 2
    for path, spans in expected.items():
        got = library.locate(TEXT, path=path, threshold=threshold)
        assert [(round(s.start, 4), round(s.end, 4)) for s in got] == spans, path
    everywhere = library.locate(TEXT, threshold=threshold, k=1000)
    assert sorted((s.path, round(s.start, 4), round(s.end, 4)) for s in everywhere) == sorted(
        (path, *span) for path, spans in expected.items() for span in spans
    )
    library.close()
