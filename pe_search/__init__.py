"""pe-search: search your own audio and video by meaning with Perception Encoder Audio-Visual models."""

__all__ = ["Hit", "Library", "LocatedSpan", "Moment", "WhyMatched"]


def __getattr__(name: str):
    # Lazy, so that `import pe_search` (and the CLI's start) does not load torch until needed.
    if name == "Library":
        from pe_search.api import Library

        return Library
    if name in ("Hit", "LocatedSpan", "Moment", "WhyMatched"):
        from pe_search.query import results

        return getattr(results, name)
    raise AttributeError(name)
