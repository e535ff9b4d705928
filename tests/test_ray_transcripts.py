"""Transcription inside Ray actors (issue 26): a Ray run stores the transcripts a local run stores,
both for files it encodes and for files it only transcribes (`--rebuild-transcripts`)."""

from __future__ import annotations

import pytest
import torch
from indexing import local_ray_cluster
from speech_fixtures import tiny_whisper

from pe_search import Library
from pe_search.toy.speech import write_spoken

OPTIONS = {"window": 2.0, "hop": 1.0, "frames_per_window": 4, "batch_size": 4}


@pytest.fixture(scope="module")
def cluster():
    """A two-CPU Ray cluster started by this process (tests/indexing.py's)."""
    with local_ray_cluster() as address:
        yield address


def transcripts(library: Library) -> dict[str, tuple]:
    out = {}
    for media in library.store.iter_media():
        record = library.store.transcript(media.id)
        if record is not None:
            words = tuple((w.text, w.start, w.end) for phrase in record.phrases for w in phrase.words)
            out[media.path] = (record.model, record.weights_digest, record.language, record.complete, words)
    return out


def test_ray_and_local_runs_store_the_same_transcripts(cluster, checkpoint_dirs, tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    write_spoken(folder / "one.wav", [(0.4, "a red circle")], seconds=3.0)
    write_spoken(folder / "two.wav", [(0.2, "the blue square"), (5.0, "a green triangle")], seconds=7.0)
    whisper = str(tiny_whisper(tmp_path / "whisper"))
    models = {
        "model": str(checkpoint_dirs["audio_video"]),
        "frame_model": str(checkpoint_dirs["audio_frame"]),
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a one-CPU actor's thread count: the same float sums
    try:
        with Library.open(tmp_path / "local", **models) as library:
            library.index([folder], workers=0, transcribe=whisper, **OPTIONS)
            local = transcripts(library)
    finally:
        torch.set_num_threads(threads)
    assert len(local) == 2 and all(t[4] for t in local.values())
    with Library.open(tmp_path / "on-ray", **models) as library:
        summary = library.index([folder], ray=cluster, transcribe=whisper, **OPTIONS)
        assert summary.transcribed == 2
        assert transcripts(library) == local
        again = library.index([folder], ray=cluster, rebuild_transcripts=True, **OPTIONS)
        assert (again.files_indexed, again.transcribed) == (0, 2)  # transcribed alone, in the actors
        assert transcripts(library) == local
