"""Tags from stored clip vectors: one matrix product against the vocabulary's label embeddings,
the model's own calibration (sigmoid of scale times dot plus bias), each segment's top labels
above the threshold, and the file's tags as the best probability each label reached in any of
its segments. Pure numpy: no media, no model, no store; it runs wherever the vectors are."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from pe_search.models.spaces import Calibration
from pe_search.store import NO_LABEL, FileTagsRecord, SegmentTags

TAG_SPACE = "audio"  # the clip space tagged: a window's sound
TAG_EMBEDDING = "text_audio"  # the query-side embedding labels are embedded with, and its score
DEFAULT_THRESHOLD = 0.1  # the calibrated probability a label must reach to tag a segment
SEGMENT_WIDTH = 5  # labels kept per segment (the best first)
FILE_WIDTH = 20  # tags kept per file
MAX_LABELS = NO_LABEL  # label ids are stored as uint16; 65535 marks an empty place
_CELLS = 1 << 23  # scores computed at once (rows x labels): 32 MB of float32
RULE_VERSION = 2  # bumped when the rule below changes what tags a file gets (2: tags as text)


@dataclass(frozen=True)
class Tagger:
    """Tags for one vocabulary under one model: `label_vectors[i]` embeds label `label_ids[i]`
    (the vocabulary's taggable labels), scored with `calibration`. `key` names all of it; a file
    tagged under another key is tagged again."""

    label_ids: np.ndarray  # int64 (m,): vocabulary ids of the rows of label_vectors
    label_vectors: np.ndarray  # float32 (m, dim)
    calibration: Calibration
    key: str
    names: tuple[str, ...] = ()  # every label's name by vocabulary id (the file's tags as text)
    threshold: float = DEFAULT_THRESHOLD
    segment_width: int = SEGMENT_WIDTH
    file_width: int = FILE_WIDTH

    def segment_tags(self, vectors: np.ndarray) -> SegmentTags:
        """Each row's best `segment_width` labels whose probability passes the threshold."""
        vectors = np.asarray(vectors, dtype=np.float32)
        count = len(vectors)
        width = min(self.segment_width, len(self.label_ids))
        ids = np.full((count, self.segment_width), NO_LABEL, np.uint16)
        levels = np.zeros((count, self.segment_width), np.uint8)
        if count == 0 or width == 0:
            return SegmentTags(ids, levels)
        cutoff = self.calibration.score_for_probability(self.threshold)
        rows = max(1, _CELLS // max(1, len(self.label_ids)))
        for first in range(0, count, rows):
            scores = vectors[first : first + rows] @ self.label_vectors.T  # (rows, m)
            labels = scores.shape[1]
            top = np.argpartition(scores, labels - width, axis=1)[:, labels - width :]  # no negated copy
            top_scores = np.take_along_axis(scores, top, axis=1)
            order = np.argsort(-top_scores, axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            top_scores = np.take_along_axis(top_scores, order, axis=1)
            passing = top_scores >= cutoff
            level = np.rint(self.calibration.probability(top_scores) * 255).astype(np.uint8)
            passing &= level > 0
            block_ids = np.where(passing, self.label_ids[top], NO_LABEL).astype(np.uint16)
            ids[first : first + rows, :width] = block_ids
            levels[first : first + rows, :width] = np.where(passing, level, 0)
        return SegmentTags(ids, levels)

    def tag(self, vectors: np.ndarray) -> FileTagsRecord:
        """A file's tags from its clip vectors in time order (segments and file summary)."""
        segments = self.segment_tags(vectors)
        tags = file_summary(segments, self.file_width)
        names = tuple(self.names[i] for i, _ in tags) if self.names else ()
        return FileTagsRecord(self.key, tags, segments, names)


def file_summary(segments: SegmentTags, width: int = FILE_WIDTH) -> tuple[tuple[int, float], ...]:
    """A file's tags: each label's best probability over its segments, best first (ties by id)."""
    present = segments.ids != NO_LABEL
    best: dict[int, int] = {}
    for label, level in zip(segments.ids[present].tolist(), segments.levels[present].tolist(), strict=True):
        if level > best.get(label, -1):
            best[label] = level
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:width]
    return tuple((label, level / 255) for label, level in ranked)


def tag_key(
    vocabulary_digest: str, model_digest: str, prompt: str, threshold: float, segment_width: int
) -> str:
    """What a file's tags were computed with: vocabulary, model weights, prompt form, rule."""
    content = [vocabulary_digest, model_digest, TAG_SPACE, TAG_EMBEDDING, prompt, threshold, segment_width]
    content.append(RULE_VERSION)
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()
