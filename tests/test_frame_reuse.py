"""Frames shared by overlapping windows: sampled on one grid per file, through the ViT once."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from indexer.segments import Window, clip_windows, frame_grid, frame_grid_step
from pe_search.models.encoder import PeEncoder
from pe_search.models.frame_cache import FrameFeatureCache

TOLERANCE = 1e-4  # the model-layer tests' bar


def _frames(count: int, size: int = 28, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    frames = torch.rand(count, 3, size, size, generator=generator) * 0.2 - 0.1
    for index in range(count):  # a band that moves: every frame distinct
        frames[index, index % 3, index % size] = 0.9
    return frames


class _Counting:
    """A stand-in 'vision model' that records how many frames it was given."""

    def __init__(self, compute) -> None:
        self.compute = compute
        self.frames = 0

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        self.frames += frames.shape[0]
        return self.compute(frames)


def test_grid_step_gives_a_whole_number_of_steps_per_hop():
    assert frame_grid_step(30.0, 15.0, 16) == 1.875  # 8 steps per hop, 16 per window
    assert frame_grid_step(1.0, 0.5, 4) == 0.25
    assert frame_grid_step(30.0, 10.0, 16) == 2.0  # 5 per hop: 15 per window, the nearest to 16
    assert frame_grid_step(30.0, 30.0, 1) == 30.0
    with pytest.raises(ValueError):
        frame_grid_step(30.0, 15.0, 0)


def test_overlapping_windows_share_half_their_frames_and_the_last_window_stays_on_the_grid():
    windows = clip_windows(50.0, 30.0, 15.0)  # [0, 30), [15, 45), [20, 50)
    times = frame_grid(windows, frame_grid_step(30.0, 15.0, 16))
    assert [len(t) for t in times] == [16, 16, 16]
    assert times[0][:2] == [0.0, 1.875] and times[0][-1] == 28.125
    assert len(set(times[0]) & set(times[1])) == 8
    assert times[2][0] == 20.625 and all(round(t / 1.875, 6).is_integer() for t in times[2])
    assert all(w.start <= t < w.end for w, ts in zip(windows, times, strict=True) for t in ts)
    assert len({t for ts in times for t in ts}) == 27  # 48 window frames, 27 distinct
    assert frame_grid([Window(1.1, 1.2)], 0.5) == [[1.15]]  # no grid point: the midpoint


def test_cache_computes_each_distinct_frame_once_and_returns_what_compute_returns():
    frames = _frames(6)
    batch = torch.cat([frames[:4], frames[2:6], frames[:1]])  # repeats inside one call
    weights = torch.randn(3 * 28 * 28, 5, generator=torch.Generator().manual_seed(1))
    vision = _Counting(lambda x: x.flatten(1) @ weights)
    cache = FrameFeatureCache()
    out = cache.run(batch, vision)
    torch.testing.assert_close(out, batch.flatten(1) @ weights)
    assert vision.frames == 6 and cache.misses == 6 and cache.hits == 3
    again = cache.run(frames[3:], vision)  # all seen before: no compute
    assert vision.frames == 6
    torch.testing.assert_close(again, frames[3:].flatten(1) @ weights)
    changed = frames[:1].clone()
    changed[0, 0, 0, 0] += 1e-3  # a different frame is never served from the cache
    cache.run(changed, vision)
    assert vision.frames == 7


def test_cache_is_bounded_least_recently_used_out():
    frames = _frames(5)
    vision = _Counting(lambda x: x.mean(dim=(1, 2, 3)).unsqueeze(1))
    cache = FrameFeatureCache(capacity=3)
    cache.run(frames[:3], vision)
    cache.run(frames[:1], vision)  # frame 0 becomes the most recent
    cache.run(frames[3:4], vision)  # evicts frame 1
    assert len(cache.entries) == 3
    cache.run(frames[0:1], vision)
    assert vision.frames == 4
    cache.run(frames[1:2], vision)
    assert vision.frames == 5


def _counted_vision(encoder: PeEncoder) -> _Counting:
    """Count the frames the encoder's own video tower's vision model runs (the fused copy as is)."""
    tower, vision_model = encoder.video_tower, encoder.vision_model
    counted = _Counting(vision_model(tower))
    encoder.vision_model = lambda t: counted if t is tower else vision_model(t)
    return counted


@pytest.mark.parametrize("kind", ["video", "audio_video"])
def test_overlapping_windows_run_shared_frames_once_and_match_forward(checkpoint_dirs, kind):
    fast = PeEncoder.from_pretrained(checkpoint_dirs[kind])
    plain = PeEncoder.from_pretrained(checkpoint_dirs[kind], fast=False)
    counted_fast = _counted_vision(fast)
    counted_plain = _counted_vision(plain)
    file_frames = _frames(12)
    windows = [file_frames[0:6], file_frames[3:9], file_frames[6:12]]  # 18 window frames, 12 distinct
    model = fast.model.video_model if kind == "audio_video" else fast.model
    forward = []
    for clip in windows:
        with torch.no_grad():
            pooled = model.video_encoder(pixel_values_videos=clip[None]).pooler_output
            forward.append(model.video_head(pooled)[0].numpy())
    if kind == "video":
        ours, our_frames = fast.embed_video_and_frames(windows[:2])  # two calls, as batches arrive
        more, more_frames = fast.embed_video_and_frames(windows[2:])
        ours, our_frames = np.concatenate([ours, more]), our_frames + more_frames
        theirs, their_frames = plain.embed_video_and_frames(windows)
    else:
        audio = [np.sin(np.arange(9600 * (i + 1)) / (7 + i)).astype(np.float32) for i in range(3)]
        first = fast.embed_audio_video(audio[:2], windows[:2], with_frames=True)
        second = fast.embed_audio_video(audio[2:], windows[2:], with_frames=True)
        ours = np.concatenate([first["video"], second["video"]])
        our_frames = first["video_frame"] + second["video_frame"]
        both = plain.embed_audio_video(audio, windows, with_frames=True)
        theirs, their_frames = both["video"], both["video_frame"]
        fused = np.concatenate([first["audio_video"], second["audio_video"]])
        assert np.abs(fused - both["audio_video"]).max() <= TOLERANCE
    assert counted_fast.frames == 12 and counted_plain.frames == 18
    assert np.abs(ours - np.stack(forward)).max() <= TOLERANCE
    assert np.abs(theirs - np.stack(forward)).max() <= TOLERANCE
    for a, b in zip(our_frames, their_frames, strict=True):
        assert np.abs(a - b).max() <= TOLERANCE
    np.testing.assert_allclose(our_frames[0][3:], our_frames[1][:3], atol=1e-5)  # shared frames agree
