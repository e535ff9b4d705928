"""Every query route ranks as the model's own forward() does, with the model's own probability.

The library is built by the real pipeline (decode, encode, store) with one segment per file;
references come from `forward()` on the same decoded inputs, one file at a time.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pe_search import Library
from pe_search.media.audio import read_audio
from pe_search.media.frame_pick import window_frame_times
from pe_search.media.probe import probe
from pe_search.media.video import iter_video_frames
from pe_search.query.routes import QueryError
from testkit import media

FRAMES = 4
TEXT = "a red circle moving right"


@pytest.fixture(scope="module")
def built(tmp_path_factory, checkpoint_dirs):
    root = tmp_path_factory.mktemp("routes")
    folder = root / "media"
    folder.mkdir()
    for i, freq in enumerate((220, 660, 1500)):
        media.write_audio(folder / f"tone{i}.wav", media.tone(freq, 1.2 + 0.2 * i, 48_000), 48_000)
    for i in range(3):
        frames = [(media.solid_frame(3 * i + (j // 6)), j / 10) for j in range(12 + 2 * i)]
        media.write_video(folder / f"scene{i}.mp4", frames, audio=media.noise(1.2 + 0.2 * i, 48_000, seed=i))
    for i in range(2):
        frames = [(media.moving_square_frame(3 * j + 20 * i), j / 10) for j in range(10 + 3 * i)]
        media.write_video(folder / f"silent{i}.webm", frames)
    queries = root / "queries"
    queries.mkdir()
    media.write_audio(
        queries / "query.wav", media.tone(500, 1.0, 48_000) + media.noise(1.0, 48_000, 0.1), 48_000
    )
    media.write_video(queries / "query.mp4", [(media.solid_frame(4 + j // 5), j / 10) for j in range(10)])
    library = Library.open(
        root / "lib", model=checkpoint_dirs["audio_video"], frame_model=checkpoint_dirs["audio_frame"]
    )
    summary = library.index([folder], workers=0, progress=False, frames_per_window=FRAMES)
    assert summary.files_indexed == 8 and not summary.failed
    yield library, folder, queries
    library.close()


def _inputs(encoder, path):
    """The file decoded as the indexer decodes its single window: audio, preprocessed frames."""
    info = probe(path)
    audio = read_audio(path, 0.0, info.duration) if info.has_audio else None
    frames = None
    if info.has_video:
        times = window_frame_times(0.0, info.duration, frames_per_window=FRAMES, frame_rate=info.frame_rate)
        rgb = np.stack([f.rgb for f in iter_video_frames(path, times)])
        frames = encoder.frame_preprocessing(rgb)
    return audio, frames


def _query_frames(encoder, path):
    """A video query is sampled as the library samples its windows (query_video): FRAMES evenly
    spaced frames of its first window (the clip is shorter than one)."""
    info = probe(path)
    times = window_frame_times(0.0, info.duration, frames_per_window=FRAMES, frame_rate=info.frame_rate)
    return encoder.frame_preprocessing(np.stack([f.rgb for f in iter_video_frames(path, times)]))


def _audio_values(encoder, audio):
    return encoder.audio_inputs(audio)[None, None]


def _forward(encoder, text=None, audio=None, frames=None):
    model = encoder.model
    kwargs = {}
    if text is not None:
        tokens = encoder.tokenizer([text], return_tensors="pt")
        kwargs.update(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
    with torch.no_grad():
        if audio is not None and frames is not None:
            return model(
                **kwargs, input_values=_audio_values(encoder, audio), pixel_values_videos=frames[None]
            )
        if audio is not None:
            return model.audio_model(**kwargs, input_values=_audio_values(encoder, audio))
        return model.video_model(**kwargs, pixel_values_videos=frames[None])


def _check(hits, reference: dict[str, float], calibrated: bool = True):
    """Ranking equals the reference's (path -> logit or score), probabilities equal sigmoid(logit)."""
    expected = sorted(reference, key=lambda p: -reference[p])
    assert [h.path for h in hits] == expected
    for hit in hits:
        if calibrated:
            assert hit.probability == pytest.approx(
                float(torch.sigmoid(torch.tensor(reference[hit.path]))), abs=1e-4
            )
        else:
            assert hit.probability is None
            assert hit.score == pytest.approx(reference[hit.path], abs=1e-3)


def _files(folder, audio=None, video=None):
    paths = sorted(folder.iterdir())
    info = {p: probe(p) for p in paths}
    return [str(p) for p in paths if (audio is None or info[p].has_audio == audio or (audio and info[p].has_audio))
            and (video is None or info[p].has_video)]  # fmt: skip


def test_text_to_audio(built):
    library, folder, _ = built
    encoder = library.models.clip
    with_audio = [p for p in _files(folder) if probe(p).has_audio]
    reference = {
        p: float(_forward(encoder, TEXT, audio=_inputs(encoder, p)[0]).logits_audio_text[0, 0])
        for p in with_audio
    }
    _check(library.search(TEXT, target="audio", k=len(with_audio)), reference)


def test_text_to_video(built):
    library, folder, _ = built
    encoder = library.models.clip
    with_video = [p for p in _files(folder) if probe(p).has_video]
    reference = {
        p: float(_forward(encoder, TEXT, frames=_inputs(encoder, p)[1]).logits_video_text[0, 0])
        for p in with_video
    }
    _check(library.search(TEXT, target="video", k=len(with_video)), reference)


def test_text_to_fused_audio_video(built):
    library, folder, _ = built
    encoder = library.models.clip
    both = [p for p in _files(folder) if probe(p).has_video and probe(p).has_audio]
    reference = {}
    for p in both:
        audio, frames = _inputs(encoder, p)
        reference[p] = float(_forward(encoder, TEXT, audio, frames).logits_audio_video_text[0, 0])
    _check(library.search(TEXT, target="audio_video", k=len(both)), reference)


def test_audio_to_video(built):
    library, folder, queries = built
    encoder = library.models.clip
    query = read_audio(queries / "query.wav")
    with_video = [p for p in _files(folder) if probe(p).has_video]
    reference = {
        p: float(_forward(encoder, None, query, _inputs(encoder, p)[1]).logits_audio_video[0, 0])
        for p in with_video
    }
    _check(library.search(audio=str(queries / "query.wav"), target="video", k=len(with_video)), reference)


def test_video_to_audio(built):
    library, folder, queries = built
    encoder = library.models.clip
    query = _query_frames(encoder, queries / "query.mp4")
    with_audio = [p for p in _files(folder) if probe(p).has_audio]
    reference = {
        p: float(_forward(encoder, None, _inputs(encoder, p)[0], query).logits_audio_video[0, 0])
        for p in with_audio
    }
    _check(library.search(video=str(queries / "query.mp4"), target="audio", k=len(with_audio)), reference)


def test_same_modality_audio_to_audio_and_video_to_video(built):
    library, folder, queries = built
    encoder = library.models.clip
    query_audio = _forward(encoder, "x", audio=read_audio(queries / "query.wav")).audio_embeds[0]
    with_audio = [p for p in _files(folder) if probe(p).has_audio]
    reference = {
        p: float(query_audio @ _forward(encoder, "x", audio=_inputs(encoder, p)[0]).audio_embeds[0])
        for p in with_audio
    }
    _check(
        library.search(audio=str(queries / "query.wav"), target="audio", k=len(with_audio)), reference, False
    )
    query_video = _forward(encoder, "x", frames=_query_frames(encoder, queries / "query.mp4")).video_embeds[0]
    with_video = [p for p in _files(folder) if probe(p).has_video]
    reference = {
        p: float(query_video @ _forward(encoder, "x", frames=_inputs(encoder, p)[1]).video_embeds[0])
        for p in with_video
    }
    _check(
        library.search(video=str(queries / "query.mp4"), target="video", k=len(with_video)), reference, False
    )


def test_audio_plus_text_to_video(built):
    library, folder, queries = built
    encoder = library.models.clip
    query = read_audio(queries / "query.wav")
    with_video = [p for p in _files(folder) if probe(p).has_video]
    reference = {
        p: float(_forward(encoder, TEXT, query, _inputs(encoder, p)[1]).logits_audio_plus_text_video[0, 0])
        for p in with_video
    }
    _check(
        library.search(TEXT, audio=str(queries / "query.wav"), target="video", k=len(with_video)), reference
    )


def test_video_plus_text_to_audio(built):
    library, folder, queries = built
    encoder = library.models.clip
    query = _query_frames(encoder, queries / "query.mp4")
    with_audio = [p for p in _files(folder) if probe(p).has_audio]
    reference = {
        p: float(_forward(encoder, TEXT, _inputs(encoder, p)[0], query).logits_video_plus_text_audio[0, 0])
        for p in with_audio
    }
    _check(
        library.search(TEXT, video=str(queries / "query.mp4"), target="audio", k=len(with_audio)), reference
    )


def test_like_an_indexed_segment_uses_its_stored_vectors(built):
    library, folder, _ = built
    encoder = library.models.clip
    source = str(folder / "scene1.mp4")
    audio, _ = _inputs(encoder, source)
    with_video = [p for p in _files(folder) if probe(p).has_video and p != source]
    reference = {
        p: float(_forward(encoder, None, audio, _inputs(encoder, p)[1]).logits_audio_video[0, 0])
        for p in with_video
    }
    # the segment's audio vector against video segments: the audio -> video route, itself excluded
    # the file's one stored segment (a single window: the whole file); another range is decoded
    segment = f"{source}@0-{probe(source).duration}"
    _check(library.search(like=segment, target="video", k=len(with_video)), reference)
    with pytest.raises(QueryError, match="not indexed"):
        library.search(like=f"{folder}/nothing.wav@0-1")


def test_text_to_audio_frames_spans_follow_the_frame_models_probabilities(built):
    library, folder, _ = built
    frames_encoder = library.models.frames
    path = str(folder / "tone2.wav")
    audio = read_audio(path)
    tokens = frames_encoder.tokenizer([TEXT], return_tensors="pt")
    with torch.no_grad():
        out = frames_encoder.model(**tokens, input_values=frames_encoder.audio_inputs(audio)[None, None])
    count = int(np.ceil(len(audio) / 1920))
    logits = out.logits_audio_text[0, 0, :count].double()
    probabilities = torch.sigmoid(logits).numpy()
    # a random model's probabilities sit near 0 or 1: cut at the median logit, so about half the frames pass
    ordered = logits.sort().values
    threshold = float(
        torch.sigmoid((ordered[count // 2] + ordered[count // 2 + 1]) / 2)
    )  # between frames, no tie
    above = probabilities > threshold
    edges = np.flatnonzero(np.diff(np.concatenate([[0], above.astype(int), [0]])))
    expected = [
        (s * 0.04, min(e * 0.04, len(audio) / 48_000)) for s, e in zip(edges[::2], edges[1::2], strict=True)
    ]
    spans = library.locate(TEXT, path=path, threshold=threshold)
    assert [(round(s.start, 4), round(s.end, 4)) for s in spans] == [
        (round(a, 4), round(b, 4)) for a, b in expected
    ]
    assert len(spans) >= 1


def test_mistakes_are_query_errors(built):
    library, _, queries = built
    with pytest.raises(QueryError, match="no query"):
        library.search()
    with pytest.raises(QueryError, match="empty"):
        library.search("   ")
    with pytest.raises(QueryError, match="cannot search"):
        library.search(audio=str(queries / "query.wav"), target="audio_video")
    from pe_search.errors import MediaError

    with pytest.raises(MediaError):
        library.search(audio=str(queries / "missing.wav"))
