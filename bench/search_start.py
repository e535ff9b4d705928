"""Where `pe-search search TEXT` spends its start (issue 24, item 5), phase by phase, in one process.

    python bench/search_start.py LIBRARY ["a high beep"] [--whole | --no-graph]

Runs what the CLI's search runs, timing each phase (wall and CPU seconds): importing the CLI,
importing the library API, opening the library (SQLite, the index), loading the models (the
library's ONNX text graphs when it has them, else the torch text side alone; --no-graph: the torch
text side even so; --whole: every tower, as before item 5), encoding the query,
searching, printing the JSON. Prints one JSON object. The interpreter's own start is not in it
(`python -c pass`, about 0.03 s).
"""

from __future__ import annotations

import time

_began = (time.perf_counter(), time.process_time())

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from contextlib import redirect_stdout  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("library")
    parser.add_argument("text", nargs="?", default="a high beep")
    parser.add_argument(
        "--whole", action="store_true", help="load every tower (as before item 5; runs on that code too)"
    )
    parser.add_argument("--no-graph", action="store_true", help="the torch text side, not the ONNX graphs")
    args = parser.parse_args()
    phases: dict[str, dict[str, float]] = {}
    mark = list(_began)

    def done(name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        phases[name] = {"wall_s": round(wall - mark[0], 3), "cpu_s": round(cpu - mark[1], 3)}
        mark[:] = [wall, cpu]

    import pe_search.cli.main  # noqa: F401
    import pe_search.cli.search  # noqa: F401

    done("import_cli")
    from pe_search.api import Library
    from pe_search.cli.output import emit_json

    done("import_api")
    library = Library.open(args.library, **({} if args.whole else {"lean_queries": True}))  # (older code too)
    store = library.store
    if args.no_graph:
        library._text_graph = lambda: None  # as a library without graphs
    done("open_library")
    engine = library.queries.engine
    done("open_index")
    models = library.models if args.whole else library.text_models
    done("load_models")
    models.embed_query("text_audio", text=args.text)  # a first encoding (what the search pays)
    done("encode_query")
    hits = library.search(args.text, target="audio", mode="vector", k=10)
    done("search")
    with redirect_stdout(io.StringIO()):
        emit_json([hit.to_dict() for hit in hits])
    done("print")
    library.close()
    total_wall = time.perf_counter() - _began[0]
    total_cpu = time.process_time() - _began[1]
    print(
        json.dumps(
            {
                "library": args.library,
                "vectors": sum(engine.spaces.values()),
                "index": type(store.space_index("audio")).__name__ if store.space_index("audio") else None,
                "models": "whole" if args.whole else type(models).__name__,
                "imported": [m for m in ("torch", "transformers", "timm", "torchvision") if m in sys.modules],
                "hits": len(hits),
                "phases": phases,
                "total_wall_s": round(total_wall, 2),
                "total_cpu_s": round(total_cpu, 2),
                "load_avg": os.getloadavg()[0],
            }
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
