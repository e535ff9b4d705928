"""Builders shared by the tests and the benchmarks (not shipped in the wheel).

- `media`: small audio and video files with known content (tones, clicks, moving squares);
- `server_live`: `pe-search serve`'s app on a loopback port in a thread;
- `duplicate_corpus`: recordings and their re-encoded, trimmed and mixed copies;
- `legacy_frames`: libraries in the format before frame blocks (the migration's input, and
  bench_frames' baseline), written by the writing stage exactly as it was.

Both import it from the repository root (pytest's `pythonpath`, the benchmarks' own path), so
neither puts the other's folder on `sys.path`.
"""
