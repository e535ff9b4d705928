"""Which prompt form tags the toy world best (issue 23, docs/tags.md): for the demo library's files
of one known sound class, with a vocabulary of the ten classes (each named by the generator's
first caption), whether the top tag is the generating class, the logit margin between the right
label and the best wrong one, and how many wrong labels pass the threshold, per prompt form.

    python bench/bench_tag_prompts.py --demo pe-search-demo   # after `pe-search demo`
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pe_search.api import Library
from pe_search.tagging.labels import MEAN, PROMPTS, compute_label_vectors
from pe_search.tagging.tagger import DEFAULT_THRESHOLD, TAG_EMBEDDING, TAG_SPACE
from pe_search.tagging.vocabulary import Label, Vocabulary
from pe_search.toy.demo_media import DemoMedia
from pe_search.toy.vocabulary import SOUNDS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", type=Path, default=Path("pe-search-demo"), help="the demo's folder")
    args = parser.parse_args()
    media = DemoMedia.load(args.demo)
    classes = list(SOUNDS)
    vocabulary = Vocabulary("toy", tuple(Label(SOUNDS[c].captions[0]) for c in classes))
    with Library.open(args.demo / "library") as library:
        models, store = library.models, library.store
        calibration = models.calibration(TAG_EMBEDDING)
        files = [(m, media.by_path(m.path)) for m in store.iter_media()]
        files = [(m, g) for m, g in files if g is not None and g.sounds]
        vectors = store.clip_vectors([m.id for m, _ in files], TAG_SPACE)
        print("| prompt | top tag right | logit margin median / worst | wrong tags per file |")
        print("|---|---|---|---|")
        for prompt in [*PROMPTS, MEAN]:
            labels = compute_label_vectors(models, vocabulary, TAG_EMBEDDING, prompt)
            right = single = 0
            margins, wrong = [], []
            for info, generated in files:
                best = (vectors[info.id] @ labels.T).max(axis=0)  # each label's best segment
                truth = {classes.index(s) for s in generated.sounds}
                passing = calibration.probability(best) >= DEFAULT_THRESHOLD
                wrong.append(sum(bool(passing[i]) for i in range(len(classes)) if i not in truth))
                if len(truth) == 1:
                    (t,) = truth
                    single += 1
                    right += int(np.argmax(best) == t)
                    others = max(best[i] for i in range(len(classes)) if i != t)
                    margins.append(float(calibration.logit(best[t]) - calibration.logit(others)))
            print(
                f"| {prompt} | {right} / {single} | {np.median(margins):.1f} / {min(margins):.1f} "
                f"| {np.mean(wrong):.2f} |"
            )


if __name__ == "__main__":
    main()
