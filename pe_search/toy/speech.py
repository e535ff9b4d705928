"""Generated speech whose every word's place is known: what the toy speech model learns from and is
checked on.

Debian's espeak-ng speaks each word of the toy world's vocabulary on its own (several voices,
speeds and pitches); the word's audio is trimmed by energy, and utterances are made by joining
words with short known gaps, so each word's start and end are exact by construction (no aligner
decides them). espeak-ng must be on PATH (`apt-get install espeak-ng`).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from pe_search.toy import vocabulary as vocab

SAMPLE_RATE = 16_000  # what Whisper's feature extractor takes
SPEECH_WORDS = ("and", "is", "the", "with")  # joining words of spoken phrases, beside the captions'

# espeak-ng voices (language + variant) the model learns from; held-out speech uses other pitches
# and speeds of the same voices.
VOICES = ("en", "en-us", "en+f3", "en-us+m3", "en-gb-x-rp", "en+f2")


@dataclass(frozen=True)
class Voice:
    name: str
    speed: int  # words per minute (espeak-ng -s)
    pitch: int  # 0-99 (espeak-ng -p)


@dataclass(frozen=True)
class SpokenWord:
    text: str
    start: float  # seconds, where the generator put the word's first sample
    end: float  # seconds, after its last sample


@dataclass
class Utterance:
    audio: np.ndarray  # float32 mono at SAMPLE_RATE
    words: list[SpokenWord]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def words() -> list[str]:
    """The words the toy speech model knows: every caption word of the toy world, and a few more."""
    return sorted(set(vocab.vocabulary()) | set(SPEECH_WORDS))


def phrases() -> list[str]:
    """Short spoken phrases: every caption of every sound, picture and scene class."""
    out: set[str] = set()
    for table in (vocab.SOUNDS, vocab.ALL_PICTURES, vocab.SCENES):
        for item in table.values():
            out.update(item.captions)
    return sorted(out)


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, voice: Voice) -> np.ndarray:
    """espeak-ng's rendering of `text` at SAMPLE_RATE, trimmed of silence at both ends."""
    wav = subprocess.run(
        ["espeak-ng", "--stdout", "-v", voice.name, "-s", str(voice.speed), "-p", str(voice.pitch), text],
        check=True,
        capture_output=True,
    ).stdout
    with wave.open(io.BytesIO(wav)) as f:
        rate = f.getframerate()
        pcm = np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16)
    return trim(resample(pcm, rate))


def resample(pcm: np.ndarray, rate: int) -> np.ndarray:
    """16-bit mono PCM at `rate` as float32 at SAMPLE_RATE (FFmpeg's resampler, through PyAV)."""
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    out = [f.to_ndarray().reshape(-1) for f in (*resampler.resample(frame), *resampler.resample(None))]
    return np.concatenate(out).astype(np.float32)


def trim(audio: np.ndarray, frame: int = 160, floor_db: float = -35.0) -> np.ndarray:
    """Cut leading and trailing 10 ms frames quieter than `floor_db` below the loudest frame."""
    n = len(audio) // frame
    if n == 0:
        return audio
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > floor_db)
    return audio[loud[0] * frame : (loud[-1] + 1) * frame]


class WordBank:
    """Each word spoken once per voice, cached: utterances are cut from these."""

    def __init__(self, voices: list[Voice], vocabulary: list[str] | None = None) -> None:
        self.voices = voices
        self.vocabulary = vocabulary or words()
        self.audio = {(w, i): speak(w, v) for i, v in enumerate(voices) for w in self.vocabulary}


def voices(rng: np.random.Generator, count: int, held_out: bool = False) -> list[Voice]:
    """`count` random voices; held-out ones take odd pitches and speeds, training ones even."""
    out = []
    for _ in range(count):
        speed = int(rng.integers(65, 90)) * 2 + (1 if held_out else 0)  # 130-179 wpm
        pitch = int(rng.integers(15, 35)) * 2 + (1 if held_out else 0)  # 30-69
        out.append(Voice(VOICES[int(rng.integers(len(VOICES)))], speed, pitch))
    return out


def utterance(
    rng: np.random.Generator,
    bank: WordBank,
    max_seconds: float = 28.0,
    gap: tuple[float, float] = (0.03, 0.12),
    lead: tuple[float, float] = (0.1, 2.0),
    tail: tuple[float, float] = (0.3, 1.5),
    noise: float = 0.003,
    max_words: int | None = None,
    caption_share: float = 0.6,
) -> Utterance:
    """Spoken phrases (captions, or random words of the vocabulary) one after the other.

    One voice per utterance; `gap` seconds between words (fluent speech), `lead` and `tail`
    seconds of quiet before and after; faint noise everywhere so the quiet is not digital zero.
    `max_words` caps the words (1 to it, uniformly: short utterances for a curriculum);
    `caption_share` is the chance each phrase is a caption rather than random words.
    """
    voice = int(rng.integers(len(bank.voices)))
    target = float(rng.uniform(1.0, max_seconds - lead[1] - tail[1]))
    cap = int(rng.integers(1, max_words + 1)) if max_words else None
    texts: list[str] = []
    length = 0.0
    while length < target and (cap is None or len(texts) < cap):
        if rng.random() < caption_share:
            phrase = phrases()[int(rng.integers(len(phrases())))].split()
        else:
            phrase = [
                bank.vocabulary[int(rng.integers(len(bank.vocabulary)))] for _ in range(rng.integers(1, 6))
            ]
        if cap is not None:
            phrase = phrase[: cap - len(texts)]
        add = sum(len(bank.audio[(w, voice)]) / SAMPLE_RATE + gap[1] for w in phrase)
        if texts and length + add > target:
            break
        texts.extend(phrase)
        length += add
    pieces: list[np.ndarray] = [np.zeros(int(rng.uniform(*lead) * SAMPLE_RATE), np.float32)]
    spoken: list[SpokenWord] = []
    at = len(pieces[0])
    for i, w in enumerate(texts):
        if i:
            silence = np.zeros(int(rng.uniform(*gap) * SAMPLE_RATE), np.float32)
            pieces.append(silence)
            at += len(silence)
        audio = bank.audio[(w, voice)] * float(rng.uniform(0.5, 1.0))
        pieces.append(audio)
        spoken.append(SpokenWord(w, at / SAMPLE_RATE, (at + len(audio)) / SAMPLE_RATE))
        at += len(audio)
    pieces.append(np.zeros(int(rng.uniform(*tail) * SAMPLE_RATE), np.float32))
    audio = np.concatenate(pieces)
    audio = audio + rng.normal(0.0, noise, len(audio)).astype(np.float32)
    return Utterance(audio.astype(np.float32), spoken)


def take(
    rng: np.random.Generator,
    bank: WordBank,
    phrases: int = 5,
    max_words: int = 6,
    pause: tuple[float, float] = (0.75, 1.5),
) -> Utterance:
    """A take as an interview or a field recording has it: short phrases (one voice each, fluent
    inside) with `pause` seconds of quiet before and after each, so the quiet between two phrases
    is twice that; every word's place exact."""
    audio: list[np.ndarray] = []
    spoken_words: list[SpokenWord] = []
    at = 0.0
    for _ in range(phrases):
        u = utterance(rng, bank, max_seconds=8.0, lead=pause, tail=pause, max_words=max_words)
        audio.append(u.audio)
        spoken_words += [SpokenWord(w.text, w.start + at, w.end + at) for w in u.words]
        at += len(u.audio) / SAMPLE_RATE
    return Utterance(np.concatenate(audio), spoken_words)


# A voice no training run uses (odd speed and pitch): what the demo and the tests speak with.
DEMO_VOICE = Voice("en-us", 151, 47)


def spoken(
    phrases: list[tuple[float, str]],
    seconds: float | None = None,
    voice: Voice = DEMO_VOICE,
    gap: float = 0.08,
    noise: float = 0.003,
    seed: int = 0,
) -> Utterance:
    """Phrases spoken at the given start times (seconds), quiet around them, each word's place exact.

    `phrases` are (start, text) pairs in time order; a phrase's words follow each other with `gap`
    seconds of quiet. `seconds` pads the whole to that length (default: 1 s after the last word).
    Raises ValueError where a phrase would start before the previous one has ended.
    """
    sr = SAMPLE_RATE
    cache: dict[str, np.ndarray] = {}
    placed: list[tuple[int, np.ndarray, str]] = []
    at = 0
    for start, text in phrases:
        begin = round(start * sr)
        if begin < at:
            raise ValueError(f"phrase {text!r} at {start} s starts before the previous one ends")
        at = begin
        for i, word in enumerate(text.split()):
            if word not in cache:
                cache[word] = speak(word, voice)
            if i:
                at += round(gap * sr)
            placed.append((at, cache[word], word))
            at += len(cache[word])
    length = round(seconds * sr) if seconds is not None else at + sr
    if length < at:
        raise ValueError(f"the phrases take {at / sr:.2f} s, longer than seconds={seconds}")
    audio = np.random.default_rng(seed).normal(0.0, noise, length).astype(np.float32)
    words: list[SpokenWord] = []
    for begin, sound, word in placed:
        audio[begin : begin + len(sound)] += sound
        words.append(SpokenWord(word, begin / sr, (begin + len(sound)) / sr))
    return Utterance(np.clip(audio, -1.0, 1.0), words)


def write_spoken(
    path: str | Path,
    phrases: list[tuple[float, str]],
    seconds: float | None = None,
    voice: Voice = DEMO_VOICE,
    video_size: tuple[int, int] = (64, 48),
    fps: float = 10.0,
) -> list[SpokenWord]:
    """Write spoken phrases (see `spoken`) to `path` and return each word's exact start and end.

    An audio extension (.wav, .flac, ...) writes the sound alone; a video one (.mp4, .mkv, .webm,
    .mov) writes grey frames at `fps` with the sound as its audio track (PyAV, FFmpeg's encoders).
    """
    from pe_search.toy.media_writer import VIDEO_CODECS, write_audio, write_video

    path = Path(path)
    utt = spoken(phrases, seconds, voice)
    if path.suffix in VIDEO_CODECS:
        width, height = video_size
        grey = np.full((height, width, 3), 128, np.uint8)
        count = max(int(utt.duration * fps), 1)
        write_video(path, ((grey, i / fps) for i in range(count)), audio=utt.audio, audio_rate=SAMPLE_RATE)
    else:
        write_audio(path, utt.audio, SAMPLE_RATE)
    return utt.words
