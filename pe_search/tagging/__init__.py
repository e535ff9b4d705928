"""Tags and event timelines: which labels of a vocabulary a file's vectors match, with the model's
calibrated probability (issue 23). Sits beside the store and the models; the indexer and the query
layer both use it."""

from pe_search.tagging.vocabulary import (
    DEFAULT_VOCABULARY,
    Label,
    Vocabulary,
    VocabularyError,
    default_vocabulary,
    load_vocabulary,
)

__all__ = [
    "DEFAULT_VOCABULARY",
    "Label",
    "Vocabulary",
    "VocabularyError",
    "default_vocabulary",
    "load_vocabulary",
]
