"""The media layer: check, probe and decode audio and video files, for indexing and for queries.

- `rate`: the one audio rate of the project (48 kHz, what PE-AV's audio tower expects);
- `check`: what a file's first bytes say (magic bytes) and whether it is complete, before FFmpeg;
- `containers`: opening with PyAV, stream choice, and FFmpeg errors turned into `MediaError`;
- `probe`: what a file contains, from its headers;
- `resample`: mono float32 at any rate to 48 kHz, stream-wise or for one array;
- `audio_sources` / `audio`: sample-exact chunks of mono 48 kHz audio on the file's timeline;
- `frame_pick`: which frames a window samples (PE's frame-pick formula);
- `video`: the frames on screen at requested times, seeking over long gaps.

Every position is an index on one timeline per file: sample `n` of the 48 kHz output is at
`n / SAMPLE_RATE` seconds, and a video frame is at `pts * time_base`, both measured from the
container's start time. Audio and video of one file therefore line up, and variable frame rate
video cannot drift. Every problem with the input file becomes a `MediaError` naming the file and the
reason; errors that are bugs in this code are left to propagate.
"""
