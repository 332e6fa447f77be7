"""Command line: ``python -m amnesia {stream,bench,download,lab}``.

- ``stream``: change requests as JSON lines on stdin -> change records as JSON lines on stdout.
- ``bench``: measure fit, forget, add, recommend and memory; write docs/benchmarks.md.
- ``download``: fetch an official MovieLens archive into the cache folder (the only network use).
- ``lab``: exact forgetting beside approximate unlearning of a matrix-factorisation model; write lab.json and lab.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _stream(args: argparse.Namespace) -> int:
    from .engine.model import ItemCF
    from .records import snapshot_records
    from .stream import run_stream

    if args.data:
        from .data.datasets import load

        model = ItemCF.fit(load(args.data).interactions)
        sys.stdout.writelines(json.dumps(record) + "\n" for record in snapshot_records(model))
        sys.stdout.flush()
    else:
        model = ItemCF()
    run_stream(model, sys.stdin, sys.stdout, sys.stderr)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bench import main as bench_main

    return bench_main(args)


def _download(args: argparse.Namespace) -> int:
    from .data.datasets import download

    path = download(args.name, cache_dir=args.cache_dir)
    print(f"{args.name} is ready in {path}")
    return 0


def _lab(args: argparse.Namespace) -> int:
    from .lab.run import main as lab_main

    return lab_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m amnesia", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    stream = commands.add_parser("stream", help="apply JSON-line change requests from stdin, print change records")
    stream.add_argument("--data", help="starting data set: toy, movielens-small, or a path (emitted at time 0)")
    stream.set_defaults(run=_stream)

    bench = commands.add_parser("bench", help="run the benchmarks and write docs/benchmarks.md")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions and a smaller sweep (for smoke tests)")
    bench.add_argument("--output", default="docs/benchmarks.md", help="markdown report path (JSON goes beside it)")
    bench.set_defaults(run=_bench)

    download = commands.add_parser("download", help="fetch a MovieLens archive (ml-100k, ml-1m, ml-latest-small, ml-25m)")
    download.add_argument("name")
    download.add_argument("--cache-dir", default=None, help="where to keep archives (default: ~/.cache/amnesia)")
    download.set_defaults(run=_download)

    lab = commands.add_parser("lab", help="compare unlearning methods with their null control; write lab.json and lab.md")
    lab.add_argument("--data", default="movielens-small", help="toy, movielens-small, a downloaded name or a path")
    lab.add_argument("--forget-set", choices=["random", "core", "edge", "all"], default=None,
                     help="which users to forget (default: all three; random with --quick)")
    lab.add_argument("--seeds", type=int, default=None, help="models per side, N >= 3 (default 16; 4 with --quick)")
    lab.add_argument("--quick", action="store_true", help="one forget set, few seeds, a sample of users (about a minute)")
    lab.add_argument("--out", default="docs", help="folder for lab.json and lab.md")
    lab.add_argument("--threads", type=int, default=1,
                     help="threads for ALS fits (default 1; 0 = every core: faster when the machine is idle, slower when busy)")
    lab.add_argument("--measure-targets", action="store_true", help="also time a --quick run and the page's run")
    lab.add_argument("--progress-json", action="store_true", help=argparse.SUPPRESS)
    lab.set_defaults(run=_lab)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:  # AmnesiaError and friends: a clear message, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader (e.g. `| head`) stopped reading: that is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0


if __name__ == "__main__":
    sys.exit(main())
