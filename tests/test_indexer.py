"""Indexing generated folders: incremental, moves, changes, deletions, bad files."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter

import pytest
from click.testing import CliRunner
from indexing import FAST, assert_same_library, make_folder, snapshot

from indexer.pipeline import run_index
from indexer.settings import IndexSettings
from pe_search.cli.main import cli
from pe_search.models.model_set import ModelSet
from pe_search.store import LibraryStore
from testkit import media


@pytest.fixture(scope="module")
def models(checkpoint_dirs) -> ModelSet:
    return ModelSet.load(checkpoint_dirs["audio_video"], checkpoint_dirs["audio_frame"])


@pytest.fixture()
def calls(models, monkeypatch) -> Counter:
    """How many clips each encoder entry point was given."""
    counter: Counter = Counter()
    for encoder, name in [
        (models.clip, "embed_audio_video"),
        (models.clip, "embed_audio"),
        (models.clip, "embed_video_and_frames"),
        (models.frames, "embed_audio_frames"),
    ]:
        original = getattr(encoder, name)

        def counted(clips, *args, _original=original, _name=name, **kwargs):
            counter[_name] += len(clips)
            return _original(clips, *args, **kwargs)

        monkeypatch.setattr(encoder, name, counted)
    return counter


def _settings(models: ModelSet) -> IndexSettings:
    return IndexSettings(
        window=1.0, hop=0.5, frames_per_window=4, frame_preprocessing=models.clip.frame_preprocessing
    )


def _index(folder, library, models, **options):
    with LibraryStore.open(library, models.identity()) as store:
        return run_index([folder], store, models, _settings(models), workers=0, progress=False, **options)


def test_first_run_indexes_everything_and_records_the_bad_file(tmp_path, models, calls):
    folder = make_folder(tmp_path / "media")
    summary = _index(folder, tmp_path / "lib", models)
    assert summary.files_indexed == 4
    assert summary.failed == [
        {"path": str(folder / "broken.mp4"), "reason": "not a media file (it contains text)"}
    ]
    # 2.0 s and 1.6 s of audio, 1.8 s with video, 1.5 s silent video; 1 s windows every 0.5 s
    assert summary.vectors["audio"] == 3 + 3 + 3
    assert summary.vectors["video"] == summary.vectors["audio_video"] + 2 == 3 + 2
    assert summary.vectors["audio_frame"] == 50 + 40 + 45
    assert calls["embed_audio_video"] == 3 and calls["embed_video_and_frames"] == 2
    library = snapshot(tmp_path / "lib")
    assert sorted(library) == sorted(
        str(p)
        for p in [
            folder / "tone440.wav",
            folder / "sub" / "tone880.flac",
            folder / "square.mp4",
            folder / "sub" / "colours.webm",
        ]
    )
    levels = Counter((item[0], item[3]) for item in library[str(folder / "square.mp4")])
    assert levels[("clip", "audio_video")] == 3 and levels[("frame", "audio_frame")] == 45
    # windows [0, 1), [0.5, 1.5), [0.8, 1.8) on one 0.25 s grid: 12 window frames, 8 distinct, stored once
    assert levels[("frame", "video_frame")] == 8


def test_frames_shared_by_overlapping_windows_go_through_the_vision_model_once(tmp_path, models, monkeypatch):
    folder = make_folder(tmp_path / "media")
    encoder = models.clip
    encoder.forget_frames()  # the module's models are shared: start from nothing seen
    tower = encoder.video_tower
    vision_model, given = encoder.vision_model, []
    vision = vision_model(tower)

    def counted(frames):
        given.append(frames.shape[0])
        return vision(frames)

    monkeypatch.setattr(encoder, "vision_model", lambda t: counted if t is tower else vision_model(t))
    _index(folder, tmp_path / "lib", models)
    library = snapshot(tmp_path / "lib")
    stored = {
        name: sum(item[3] == "video_frame" for item in library[str(folder / name)])
        for name in ("square.mp4", "sub/colours.webm")
    }
    # square: 3 windows x 4 frames, 8 distinct; colours: 2 windows x 4 frames, 6 distinct (some alike)
    assert stored == {"square.mp4": 8, "sub/colours.webm": 6}
    assert 8 < sum(given) <= 14 < 12 + 8


def test_second_run_skips_unchanged_files_without_encoding(tmp_path, models, calls):
    folder = make_folder(tmp_path / "media")
    _index(folder, tmp_path / "lib", models)
    before = snapshot(tmp_path / "lib")
    calls.clear()
    summary = _index(folder, tmp_path / "lib", models)
    assert summary.skipped == 5 and summary.files_indexed == 0 and not calls
    assert_same_library(before, snapshot(tmp_path / "lib"), atol=0)


def test_moved_and_renamed_files_keep_their_vectors_without_encoding(tmp_path, models, calls):
    folder = make_folder(tmp_path / "media")
    _index(folder, tmp_path / "lib", models)
    before = snapshot(tmp_path / "lib")
    (folder / "elsewhere").mkdir()
    shutil.move(folder / "tone440.wav", folder / "elsewhere" / "renamed.wav")
    shutil.move(folder / "square.mp4", folder / "sub" / "square.mp4")
    calls.clear()
    summary = _index(folder, tmp_path / "lib", models)
    assert summary.moved == 2 and summary.files_indexed == 0 and summary.removed == 0
    assert not calls, "a moved file must not be encoded again"
    after = snapshot(tmp_path / "lib")
    assert after[str(folder / "elsewhere" / "renamed.wav")] is not None
    assert_same_library(
        {
            **{k: v for k, v in before.items() if "tone440" not in k and "square" not in k},
            str(folder / "elsewhere" / "renamed.wav"): before[str(folder / "tone440.wav")],
            str(folder / "sub" / "square.mp4"): before[str(folder / "square.mp4")],
        },
        after,
        atol=0,
    )


def test_modified_file_is_encoded_again_and_only_it(tmp_path, models, calls):
    from testkit import media

    folder = make_folder(tmp_path / "media")
    _index(folder, tmp_path / "lib", models)
    before = snapshot(tmp_path / "lib")
    media.write_audio(folder / "tone440.wav", media.tone(1000, 3.0, 48_000), 48_000)
    calls.clear()
    summary = _index(folder, tmp_path / "lib", models)
    assert summary.files_indexed == 1 and calls["embed_audio"] == 5
    after = snapshot(tmp_path / "lib")
    changed = str(folder / "tone440.wav")
    assert len([x for x in after[changed] if x[3] == "audio"]) == 5  # 3 s now: no leftovers of the old 3
    assert_same_library(
        {k: v for k, v in before.items() if k != changed},
        {k: v for k, v in after.items() if k != changed},
        atol=0,
    )


def test_touched_but_identical_file_is_not_encoded(tmp_path, models, calls):
    folder = make_folder(tmp_path / "media")
    _index(folder, tmp_path / "lib", models)
    os.utime(folder / "tone440.wav", (1_000_000_000, 1_000_000_000))
    calls.clear()
    summary = _index(folder, tmp_path / "lib", models)
    assert summary.files_indexed == 0 and not calls
    with LibraryStore.open(tmp_path / "lib", readonly=True) as store:
        assert store.find_media(str(folder / "tone440.wav")).mtime == 1_000_000_000


def test_deleted_files_leave_the_library_unless_no_prune(tmp_path, models):
    folder = make_folder(tmp_path / "media")
    _index(folder, tmp_path / "lib", models)
    (folder / "sub" / "tone880.flac").unlink()
    kept = _index(folder, tmp_path / "lib", models, prune=False)
    assert kept.removed == 0 and str(folder / "sub" / "tone880.flac") in snapshot(tmp_path / "lib")
    pruned = _index(folder, tmp_path / "lib", models)
    assert pruned.removed == 1 and str(folder / "sub" / "tone880.flac") not in snapshot(tmp_path / "lib")


def test_cli_index_and_status_report_failures_and_exit_code(tmp_path, checkpoint_dirs):
    folder = make_folder(tmp_path / "media")
    runner = CliRunner()
    args = [
        "index",
        str(folder),
        "--library",
        str(tmp_path / "lib"),
        "--model",
        str(checkpoint_dirs["audio_video"]),
        "--frame-model",
        str(checkpoint_dirs["audio_frame"]),
        "--workers",
        "0",
        *FAST,
        "--json",
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 1, result.output  # one file failed
    summary = json.loads(result.stdout)
    assert summary["files_indexed"] == 4 and len(summary["failed"]) == 1
    assert set(summary["vectors"]) == {"audio", "video", "audio_video", "audio_frame", "video_frame"}
    status = json.loads(runner.invoke(cli, ["status", "--library", str(tmp_path / "lib"), "--json"]).stdout)
    assert status["index_settings"]["window"] == 1.0 and status["index_settings"]["frames_per_window"] == 4
    assert status["failed"] == [
        {"path": str(folder / "broken.mp4"), "reason": "not a media file (it contains text)"}
    ]
    assert status["spaces"]["audio"]["vectors"] == 9 and status["models"][0] == str(
        checkpoint_dirs["audio_video"]
    )
    # Re-run without --model: the library's own models are used, nothing is encoded again.
    again = runner.invoke(
        cli, ["index", str(folder), "--library", str(tmp_path / "lib"), "--workers", "0", "--json"]
    )
    assert json.loads(again.stdout)["skipped"] == 5


def test_other_model_is_refused_with_one_line(tmp_path, checkpoint_dirs):
    folder = make_folder(tmp_path / "media")
    runner = CliRunner()
    base = ["index", str(folder / "tone440.wav"), "--library", str(tmp_path / "lib"), "--workers", "0", *FAST]
    assert (
        runner.invoke(cli, [*base, "--model", str(checkpoint_dirs["audio_video"]), "--no-frames"]).exit_code
        == 0
    )
    result = runner.invoke(cli, [*base, "--model", str(checkpoint_dirs["audio"]), "--no-frames"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")
    assert snapshot(tmp_path / "lib")  # nothing already indexed was lost


def test_library_keeps_its_index_settings_and_refuses_others_without_rebuild(tmp_path, checkpoint_dirs):
    folder = make_folder(tmp_path / "media")
    (folder / "broken.mp4").unlink()
    runner = CliRunner()
    library = tmp_path / "lib"
    base = ["index", str(folder), "--library", str(library), "--workers", "0", "--json"]
    plain = base[:-1]  # without --json: the error is one line
    models = [
        "--model",
        str(checkpoint_dirs["audio_video"]),
        "--frame-model",
        str(checkpoint_dirs["audio_frame"]),
    ]
    assert runner.invoke(cli, [*base, *models, *FAST]).exit_code == 0
    with LibraryStore.open(library, readonly=True) as store:
        assert store.index_settings() == {
            "window": 1.0, "hop": 0.5, "fps": None, "frames_per_window": 4, "frame_chunk": 30.0,
            "frame_codes": "sq8",
        }  # fmt: skip
    before = snapshot(library)

    refused = runner.invoke(cli, [*plain, "--window", "2"])
    assert refused.exit_code == 1
    assert refused.output.count("\n") == 1 and refused.output.startswith("error: ")
    assert "indexed with --window 1 --hop 0.5 --frames-per-window 4, not --window 2 --hop 1" in refused.output
    assert "--rebuild" in refused.output
    as_json = runner.invoke(cli, [*base, "--window", "2"])
    assert as_json.exit_code == 1 and "--rebuild" in json.loads(as_json.stdout)["error"]
    assert_same_library(before, snapshot(library), atol=0)  # nothing lost

    # the recorded frame code (sq8 by default) is refused the same way
    other_code = runner.invoke(cli, [*plain, "--frame-codes", "pq"])
    assert other_code.exit_code == 1 and other_code.output.count("\n") == 1
    assert "--frames-per-window 4, not --window 1 --hop 0.5 --frames-per-window 4 --frame-codes pq" in (
        other_code.output
    )
    assert "--rebuild" in other_code.output
    assert_same_library(before, snapshot(library), atol=0)

    same = runner.invoke(cli, base)  # no settings named: the library's, so nothing to encode
    assert same.exit_code == 0 and json.loads(same.stdout)["skipped"] == 4

    rebuilt = runner.invoke(cli, [*base, "--window", "2", "--rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert json.loads(rebuilt.stdout)["files_indexed"] == 4
    assert "index settings changed (--window 1 --hop 0.5 --frames-per-window 4 -> --window 2 --hop 1" in (
        rebuilt.stderr
    )
    after = snapshot(library)
    clips = [item for item in after[str(folder / "tone440.wav")] if item[0] == "clip"]
    assert [(item[1], item[2]) for item in clips] == [(0.0, 2.0)]  # 2.0 s of audio: one 2 s window
    with LibraryStore.open(library, readonly=True) as store:
        assert store.index_settings()["window"] == 2.0
        stored = sum(store.counts().values()) + sum(store.frame_counts().values())
        assert stored == sum(len(v) for v in after.values())


def test_library_api_index_uses_and_guards_the_recorded_settings(tmp_path, checkpoint_dirs):
    from indexer.settings import IndexSettingsMismatch
    from pe_search import Library

    folder = tmp_path / "media"
    folder.mkdir()
    media.write_audio(folder / "tone.wav", media.tone(440, 2.0, 48_000), 48_000)
    library = Library.open(tmp_path / "lib", model=checkpoint_dirs["audio"], frame_model=None)
    try:
        assert library.index([folder], workers=0, progress=False, window=1.0).files_indexed == 1
        with pytest.raises(IndexSettingsMismatch, match="indexed with --window 1 --hop 0.5"):
            library.index([folder], workers=0, progress=False, window=2.0)
        assert library.index([folder], workers=0, progress=False).skipped == 1  # the library's settings
        summary = library.index([folder], workers=0, progress=False, window=2.0, rebuild=True)
        assert summary.files_indexed == 1 and summary.segments >= 1
        assert library.status().spaces["audio"].count == 1  # one 2 s window, the 1 s ones dropped
        with pytest.raises(
            IndexSettingsMismatch, match="not --window 2 --hop 1 --frames-per-window 16 frame_chunk=10"
        ):
            library.index([folder], workers=0, progress=False, frame_chunk=10.0)
    finally:
        library.close()
