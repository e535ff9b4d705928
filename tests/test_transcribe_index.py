"""Transcription at index time (issue 26 items 1 and 5): what is stored is what transformers'
own pipeline hears, the gate leaves silence out and keeps every word, another model re-transcribes
without encoding a vector again, and each mistake is one line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from speech_fixtures import pipeline_words, tiny_whisper

from indexer.transcribe import TranscriptionModelMismatch
from pe_search import Library
from pe_search.media.speech_audio import speech_sound
from pe_search.models.speech import NotASpeechModel, SpeechModel, UnknownLanguage
from pe_search.toy.speech import write_spoken

OPTIONS = {"window": 2.0, "hop": 1.0, "frames_per_window": 4, "batch_size": 4, "workers": 0}
# two phrases with 8 s of quiet between them: the gate must leave that out
PHRASES = [(0.5, "a red circle"), (11.0, "the blue square")]


@pytest.fixture(scope="module")
def whispers(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("whisper")
    return tiny_whisper(root / "a", seed=0), tiny_whisper(root / "b", seed=1)


@pytest.fixture(scope="module")
def spoken(tmp_path_factory):
    """A folder with one spoken file (speech, quiet, speech) and the generator's word times."""
    folder = tmp_path_factory.mktemp("speech")
    words = write_spoken(folder / "talk.wav", PHRASES, seconds=14.0)
    return folder, words


@pytest.fixture(scope="module")
def models(checkpoint_dirs) -> dict:
    return {"model": str(checkpoint_dirs["audio_video"]), "frame_model": str(checkpoint_dirs["audio_frame"])}


def stored_words(library: Library, path: Path) -> list[tuple[str, float, float]]:
    media = library.store.find_media(str(path))
    record = library.store.transcript(media.id)
    return [(w.text, w.start, w.end) for phrase in record.phrases for w in phrase.words]


def test_stored_words_are_the_pipelines_own_in_the_files_time(
    whispers, spoken, models, tmp_path, monkeypatch
):
    folder, truth = spoken
    sent = []
    real = SpeechModel.transcribe

    def spy(self, pieces, language=None):
        sent.extend((piece.start, piece.end) for piece in pieces)
        return real(self, pieces, language)

    monkeypatch.setattr(SpeechModel, "transcribe", spy)
    with Library.open(tmp_path / "library", **models) as library:
        summary = library.index([folder], transcribe=str(whispers[0]), **OPTIONS)
        assert summary.transcribed == 1 and summary.transcripts_incomplete == []
        got = stored_words(library, folder / "talk.wav")
        record = library.store.transcript(library.store.find_media(str(folder / "talk.wav")).id)
    assert record.language == "en" and record.complete and record.model == str(whispers[0])
    # the gate: every generated word is inside a piece sent, and the quiet between the phrases is not
    for word in truth:
        assert any(start <= word.start and word.end <= end for start, end in sent), word
    quiet = (truth[2].end + 1.0, truth[3].start - 1.0)
    assert all(end <= quiet[0] or start >= quiet[1] for start, end in sent), sent
    assert sum(end - start for start, end in sent) < 14.0 - (quiet[1] - quiet[0])
    # what is stored: transformers' pipeline on each piece sent, shifted to where the piece starts
    audio = speech_sound(folder / "talk.wav")
    expected = []
    for start, end in sent:
        piece = audio[round(start * 16_000) : round(end * 16_000)]
        # (a time the random model puts past the piece is held at the piece's end)
        expected += [
            (t, min(start + s, end), min(start + e, end))
            for t, s, e in pipeline_words(whispers[0], piece, "en")
        ]
    assert expected, "the random model says something"
    assert [t for t, _, _ in got] == [t for t, _, _ in expected]
    times = [time for _, s, e in got for time in (s, e)]
    assert times == pytest.approx([time for _, s, e in expected for time in (s, e)], abs=1e-9)


def library_bytes(library_dir: Path) -> dict[str, str]:
    """The digest of every vector and frame block file, and of the rows that say where they lie."""
    import sqlite3

    out = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((library_dir / "vectors").iterdir())
    }
    with sqlite3.connect(library_dir / "library.db") as db:
        for table in ("segments", "vectors", "frame_blocks", "index_state"):
            rows = db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            out[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return out


def weights_identity(checkpoint: Path) -> str:
    """By hand: the sha256 of the weights file's sha256 (the identity docs/model-layer.md states)."""
    inner = hashlib.sha256((checkpoint / "model.safetensors").read_bytes()).hexdigest()
    return hashlib.sha256(inner.encode()).hexdigest()


def test_another_model_is_refused_then_re_transcribes_without_encoding_again(
    whispers, spoken, models, tmp_path
):
    folder, _ = spoken
    library_dir = tmp_path / "library"
    with Library.open(library_dir, **models) as library:  # indexed first without transcripts
        library.index([folder], **OPTIONS)
    before = library_bytes(library_dir)
    with Library.open(library_dir, **models) as library:  # transcribing a library indexed before
        summary = library.index([folder], transcribe=str(whispers[0]), **OPTIONS)
        assert (summary.files_indexed, summary.transcribed) == (0, 1)
        assert library.store.transcription_model() == (str(whispers[0]), weights_identity(whispers[0]))
        again = library.index([folder], **OPTIONS)  # the recorded model: nothing left to do
        assert (again.files_indexed, again.transcribed) == (0, 0)
        with pytest.raises(TranscriptionModelMismatch) as refused:
            library.index([folder], transcribe=str(whispers[1]), **OPTIONS)
        assert "\n" not in str(refused.value) and "--rebuild-transcripts" in str(refused.value)
        rebuilt = library.index([folder], transcribe=str(whispers[1]), rebuild_transcripts=True, **OPTIONS)
        assert (rebuilt.files_indexed, rebuilt.transcribed) == (0, 1)
        media = library.store.find_media(str(folder / "talk.wav"))
        record = library.store.transcript(media.id)
        assert (record.model, record.weights_digest) == (str(whispers[1]), weights_identity(whispers[1]))
        assert library.store.transcription_model() == (str(whispers[1]), weights_identity(whispers[1]))
    assert library_bytes(library_dir) == before  # no vector, no frame block, no segment changed


def test_mistakes_are_one_line_and_create_nothing(whispers, spoken, models, tmp_path):
    folder, _ = spoken
    library_dir = tmp_path / "library"
    with Library.open(library_dir, **models) as library:
        with pytest.raises(NotASpeechModel) as not_speech:
            library.index([folder], transcribe=models["model"], **OPTIONS)
        with pytest.raises(UnknownLanguage) as unknown:
            library.index([folder], transcribe=str(whispers[0]), language="xx", **OPTIONS)
    assert "is not a speech model (model_type 'pe_audio_video')" in str(not_speech.value)
    assert "'xx'" in str(unknown.value) and "codes it knows: en" in str(unknown.value)
    for error in (not_speech.value, unknown.value):
        assert "\n" not in str(error)
    assert not (library_dir / "library.db").exists()


def test_cli_flags_and_a_mistake_in_json(whispers, spoken, models, tmp_path):
    import json

    from click.testing import CliRunner

    from pe_search.cli.main import cli

    folder, _ = spoken
    base = [
        "index",
        str(folder),
        "--library",
        str(tmp_path / "library"),
        "--model",
        models["model"],
        "--no-frames",
    ]
    base += ["--window", "2", "--hop", "1", "--frames-per-window", "4", "--workers", "0"]
    result = CliRunner().invoke(cli, [*base, "--transcribe", str(whispers[0]), "--language", "xx", "--json"])
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert json.loads(result.stdout)["error"] == line.removeprefix("error: ")
    assert "--language" in line and "codes it knows: en" in line


def test_one_file_failing_is_indexed_without_a_transcript_and_listed(
    whispers, spoken, models, tmp_path, monkeypatch
):
    from pe_search.status_report import status_report

    folder = tmp_path / "media"
    folder.mkdir()
    write_spoken(folder / "fine.wav", [(0.3, "a red circle")], seconds=2.5)
    write_spoken(folder / "fails.wav", [(3.0, "the blue square")], seconds=5.5)
    real = SpeechModel.transcribe

    def failing(self, pieces, language=None):
        if pieces and pieces[-1].end > 2.6:  # fine.wav is 2.5 s long: only fails.wav's speech ends later
            raise RuntimeError("out of memory")
        return real(self, pieces, language)

    monkeypatch.setattr(SpeechModel, "transcribe", failing)
    with Library.open(tmp_path / "library", **models) as library:
        summary = library.index([folder], transcribe=str(whispers[0]), **OPTIONS)
        report = status_report(library.store, library.path)
        fails = library.store.find_media(str(folder / "fails.wav"))
        fine = library.store.find_media(str(folder / "fine.wav"))
        record = library.store.transcript(fails.id)
        assert library.store.transcript(fine.id).complete
    assert summary.files_indexed == 2 and summary.failed == []
    assert fails.status == "indexed"  # its vectors are there; only the transcript is missing
    assert (record.complete, record.phrases) == (False, ())
    reason = "transcription failed: RuntimeError: out of memory"
    assert summary.transcripts_incomplete == [{"path": str(folder / "fails.wav"), "reason": reason}]
    assert [(p.path, p.reason) for p in report.transcripts_incomplete] == [
        (str(folder / "fails.wav"), reason)
    ]


def test_a_corrupt_speech_stream_gives_a_partial_transcript_with_the_reason(whispers, models, tmp_path):
    from testkit.media import truncated_copy

    folder = tmp_path / "media"
    folder.mkdir()
    write_spoken(tmp_path / "whole.wav", [(0.3, "a red circle"), (3.0, "the blue square")], seconds=5.0)
    truncated_copy(tmp_path / "whole.wav", folder / "cut.wav", keep=0.6)
    with Library.open(tmp_path / "library", **models) as library:
        summary = library.index([folder], transcribe=str(whispers[0]), **OPTIONS)
        media = library.store.find_media(str(folder / "cut.wav"))
        record = library.store.transcript(media.id)
    assert not record.complete and record.reason.startswith("the sound decodes only in part")
    assert summary.transcripts_incomplete == [{"path": str(folder / "cut.wav"), "reason": record.reason}]
