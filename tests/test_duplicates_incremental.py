"""Incremental regrouping (issue 24 item 3): after adding, deleting and changing files, the pairs a
run finds by matching only what changed equal the pairs matching.find_matches finds over every
fingerprint at once (the matcher before incremental runs, on the same fingerprints), and the
planted copies are grouped with their originals and nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from pe_search.duplicates import audio_fingerprint
from pe_search.duplicates.groups import find_duplicates
from pe_search.duplicates.incremental import match_kind
from pe_search.duplicates.matching import MatchSettings, find_matches
from pe_search.models.identity import ModelIdentity
from pe_search.store import LibraryStore, MediaRecord

VERSION = audio_fingerprint.VERSION


def _drifting(rng: np.random.Generator, count: int) -> np.ndarray:
    """Codes like real ones: from one hop to the next each bit flips with probability 1/8."""
    masks = rng.integers(0, 2**32, size=(3, count), dtype=np.uint32)
    drift = masks[0] & masks[1] & masks[2]
    drift[0] = rng.integers(1, 2**32, dtype=np.uint32)
    codes = np.bitwise_xor.accumulate(drift)
    codes[codes == 0] = 1
    return codes


def _flipped(rng: np.random.Generator, codes: np.ndarray, share: float) -> np.ndarray:
    flips = (
        np.packbits(rng.random((codes.size, 32)) < share, axis=1, bitorder="little").view("<u4").reshape(-1)
    )
    out = codes ^ flips
    out[out == 0] = 1
    return out


def _one_unreliable_bit_off(rng: np.random.Generator, codes: np.ndarray) -> np.ndarray:
    """Each code with one of its unreliable bits flipped (a bit that differs from the previous or
    the next code's, the bits a codec flips), where it has one: few codes stay whole, so a short
    copy and its original find each other mostly through near codes."""
    unreliable = np.zeros_like(codes)
    unreliable[1:] |= codes[1:] ^ codes[:-1]
    unreliable[:-1] |= codes[1:] ^ codes[:-1]
    out = codes.copy()
    for i, bits in enumerate(unreliable.tolist()):
        if bits:
            choices = [b for b in range(32) if bits >> b & 1]
            out[i] ^= np.uint32(1 << int(rng.choice(choices)))
    out[out == 0] = 1
    return out


class Library:
    """Files written through the store; `truth` maps each path to the recording it holds."""

    def __init__(self, folder, seed: int) -> None:
        self.store = LibraryStore.open(folder, ModelIdentity(("t",), "c", "w", 8, {}))
        self.rng = np.random.default_rng(seed)
        self.truth: dict[str, str] = {}
        self.codes: dict[str, np.ndarray] = {}
        self.count = 0

    def add(self, codes: np.ndarray, recording: str, digest: str | None = None) -> str:
        self.count += 1
        path = f"/sim/{self.count:05d}.wav"
        digest = digest or f"h{self.count}"
        with self.store.write() as tx:
            media_id = tx.upsert_media(
                MediaRecord(path=path, size=1, mtime=0.0, content_hash=digest, duration=1.0,
                            has_audio=True, status="indexed")
            )  # fmt: skip
            tx.set_audio_fingerprint(media_id, codes, digest, VERSION)
        self.truth[path], self.codes[path] = recording, codes
        return path

    def original(self, short: bool) -> str:
        count = int(self.rng.integers(30, 240) if short else self.rng.integers(300, 1500))
        name = f"r{self.count + 1}"
        return self.add(_drifting(self.rng, count), name)

    def copy(self, path: str, kind: str) -> str:
        codes, recording = self.codes[path], self.truth[path]
        if kind == "exact":
            return self.add(codes, recording, self.store.find_media(path).content_hash)
        if kind in ("trim", "trim_reencode"):
            cut = max(1, codes.size // 10)
            codes = codes[int(self.rng.integers(0, cut)) : codes.size - int(self.rng.integers(0, cut))]
        if kind in ("reencode", "trim_reencode"):
            codes = _flipped(self.rng, codes, 0.03)
        return self.add(codes, recording)

    def delete(self, path: str) -> None:
        with self.store.write() as tx:
            tx.delete_media(self.store.find_media(path).id)
        del self.truth[path], self.codes[path]

    def change(self, path: str) -> None:
        """The file at `path` now holds another recording (new content, new fingerprint)."""
        codes = _drifting(self.rng, int(self.rng.integers(30, 600)))
        digest = f"changed{self.count}"
        with self.store.write() as tx:
            media_id = tx.upsert_media(
                MediaRecord(path=path, size=2, mtime=1.0, content_hash=digest, duration=1.0,
                            has_audio=True, status="indexed")
            )  # fmt: skip
            tx.set_audio_fingerprint(media_id, codes, digest, VERSION)
        self.truth[path], self.codes[path] = f"changed-{path}", codes


def _incremental(library: Library, settings: MatchSettings) -> tuple[dict, int]:
    matched = match_kind(library.store, "audio", settings)
    library.store.keep_duplicates(matched.update)
    return {
        k: (v.offset, round(v.bit_error, 9), v.frames) for k, v in matched.pairs.items()
    }, matched.matched_files


def _from_scratch(library: Library, settings: MatchSettings) -> dict:
    """find_matches over every stored fingerprint, by media id (a < b)."""
    ids = sorted(e.media_id for e in library.store.fingerprint_entries(("audio",)))
    codes = library.store.fingerprint_codes(ids)
    found = find_matches([codes[i] for i in ids], settings)
    return {(ids[m.a], ids[m.b]): (m.offset, round(m.bit_error, 9), m.frames) for m in found}


def _planted_pairs(library: Library) -> set[tuple[str, str]]:
    paths = sorted(library.truth)
    return {
        (a, b) for i, a in enumerate(paths) for b in paths[i + 1 :] if library.truth[a] == library.truth[b]
    }


def _grouped_pairs(groups) -> set[tuple[str, str]]:
    found = set()
    for group in groups:
        paths = sorted(f.path for f in group.files)
        found |= {(a, b) for i, a in enumerate(paths) for b in paths[i + 1 :]}
    return found


def test_incremental_equals_from_scratch_through_adds_deletes_and_changes(tmp_path):
    library = Library(tmp_path / "lib", seed=3)
    settings = MatchSettings()
    kinds = ("exact", "reencode", "trim", "trim_reencode")
    originals: list[str] = []
    early = [_drifting(library.rng, int(library.rng.integers(40, 200))) for _ in range(6)]
    for step in range(4):
        if step == 1:  # short copies first, of originals that come later
            for i, codes in enumerate(early):
                library.add(_one_unreliable_bit_off(library.rng, codes), f"early{i}")
        if step == 3:
            for i, codes in enumerate(early):
                library.add(codes, f"early{i}")
        for _ in range(25):
            originals.append(library.original(short=bool(library.rng.random() < 0.5)))
        for i in range(12):
            library.copy(originals[int(library.rng.integers(0, len(originals)))], kinds[i % 4])
        if step == 2:  # delete an original that has copies, and a copy; change a file
            library.delete(originals.pop(0))
            library.delete(sorted(library.truth)[-1])
            library.change(originals[3])
        pairs, matched = _incremental(library, settings)
        assert pairs == _from_scratch(library, settings)
        # only what is new was matched: 37 files a step (+ the 6 early ones at steps 1 and 3; at
        # step 2 one deleted, and the changed file counts as new); no key crossed the stop line
        assert matched == (len(library.truth) if step == 0 else 37 + 6 * (step in (1, 3)))
    groups = find_duplicates(library.store, "audio")
    planted = _planted_pairs(library)
    assert _grouped_pairs(groups) == planted and len(planted) > 40


def _key_at_level_two(rng: np.random.Generator) -> np.uint32:
    """A code sampled as a lookup key by a file of 400 codes (1 in 4: Knuth's hash of it < 2**30)."""
    while True:
        code = np.uint32(rng.integers(1, 2**32))
        if (int(code) * 0x9E3779B1) % 2**32 < 2**30:
            return code


def _two_bits_off(rng: np.random.Generator, codes: np.ndarray) -> np.ndarray:
    """Every code with exactly two bits flipped: 6 % bit error, and no code left whole."""
    out = codes.copy()
    for i in range(out.size):
        first, second = rng.choice(32, size=2, replace=False)
        out[i] ^= np.uint32((1 << int(first)) | (1 << int(second)))
    out[out == 0] = 1
    return out


def test_a_key_crossing_the_stop_line_rematches_its_files(tmp_path):
    """A copy whose only whole codes shared with its original are one key at two places: its
    two votes make the pair a candidate while the key has at most `max_postings` (6) postings:
    three files holding it twice. A fourth file holding it makes it a stop-key (the pair goes); deleting that file brings the
    pair back. Each time a run matching only the changes must agree with one from scratch."""
    library = Library(tmp_path / "lib", seed=5)
    settings = MatchSettings(max_postings=6)
    rng = library.rng
    shared = _key_at_level_two(rng)
    original = _drifting(rng, 400)
    copy = _two_bits_off(rng, original)
    original[[10, 80]] = copy[[10, 80]] = shared
    a, b = library.add(original, "a"), library.add(copy, "a")
    expected_pair = (library.store.find_media(a).id, library.store.find_media(b).id)
    others = []
    for index in range(2):
        codes = _drifting(rng, 400)
        codes[[10, 80]] = shared
        others.append(library.add(codes, f"other{index}"))
        pairs, _ = _incremental(library, settings)
        assert pairs == _from_scratch(library, settings)
        assert (expected_pair in pairs) == (index == 0)  # 6 postings, then 8
    library.delete(others[-1])
    pairs, _ = _incremental(library, settings)
    assert pairs == _from_scratch(library, settings) and expected_pair in pairs


def test_other_settings_start_from_scratch(tmp_path):
    library = Library(tmp_path / "lib", seed=7)
    first = library.original(short=False)
    library.copy(first, "reencode")
    _incremental(library, MatchSettings())
    strict = MatchSettings(max_bit_error=0.001, full_frames=1)
    pairs, matched = _incremental(library, strict)
    assert matched == 2 and pairs == _from_scratch(library, strict) == {}


@pytest.mark.parametrize("readonly", [True, False])
def test_a_reader_matches_without_keeping(tmp_path, readonly):
    library = Library(tmp_path / "lib", seed=9)
    first = library.original(short=True)
    library.copy(first, "trim_reencode")
    library.store.close()
    with LibraryStore.open(tmp_path / "lib", readonly=readonly) as store:
        (group,) = find_duplicates(store, "audio")
        assert len(group.files) == 2
        assert (store.saved_duplicates("audio") is None) == readonly


def test_a_kept_short_excerpt_finds_a_new_long_original(tmp_path):
    """A short copy of a stretch of a long recording, kept from an earlier run, meets the long
    original added later only through the short file's near codes (the long file looks up no
    near codes, and few of the copy's codes are whole): the new run finds them from the key side."""
    library = Library(tmp_path / "lib", seed=11)
    settings = MatchSettings()
    long = _drifting(library.rng, 600)
    excerpt = _one_unreliable_bit_off(library.rng, long[200:330])
    library.add(excerpt, "x")
    for index in range(3):
        library.original(short=bool(index % 2))
    assert _incremental(library, settings)[0] == {}
    library.add(long, "x")
    pairs, matched = _incremental(library, settings)
    assert matched == 1 and pairs == _from_scratch(library, settings)
    (group,) = find_duplicates(library.store, "audio")
    assert {library.truth[f.path] for f in group.files} == {"x"} and len(group.files) == 2


def test_the_command_keeps_what_it_learnt_unless_another_process_writes(tmp_path):
    import json

    from click.testing import CliRunner

    from pe_search.cli.main import cli

    library = Library(tmp_path / "lib", seed=13)
    library.copy(library.original(short=False), "trim")
    library.store.close()
    command = ["duplicates", "--library", str(tmp_path / "lib"), "--json"]
    with LibraryStore.open(tmp_path / "lib"):  # an index run holds the writer
        busy = CliRunner().invoke(cli, command)
    with LibraryStore.open(tmp_path / "lib", readonly=True) as store:
        assert store.saved_duplicates("audio") is None
    free = CliRunner().invoke(cli, command)
    with LibraryStore.open(tmp_path / "lib", readonly=True) as store:
        assert store.saved_duplicates("audio") is not None
    assert busy.exit_code == free.exit_code == 0, busy.output + free.output
    assert json.loads(busy.output)["groups"] == json.loads(free.output)["groups"]
    assert len(json.loads(free.output)["groups"]) == 1
