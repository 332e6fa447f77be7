"""Command line: ``python -m amnesia {stream,bench,download,lab,warm}``.

- ``stream``: change requests as JSON lines on stdin -> change records as JSON lines on stdout.
- ``bench``: measure fit, forget, add, recommend and memory; write docs/benchmarks.md.
- ``download``: fetch an official MovieLens archive into the cache folder (the only network use).
- ``lab``: exact forgetting beside approximate unlearning of a matrix-factorisation model; write lab.json and lab.md.
- ``warm``: compile the engine's kernels into numba's cache now, so the app's first page does not wait for it.
"""

from __future__ import annotations

import argparse
import os
import sys


def _stream(args: argparse.Namespace) -> int:
    """The stream: its records go to this process's stdout and its JSON errors to stderr, and nothing
    else does. Ray prints notices of its own (a shard's worker that died: "(raylet) A worker died or
    was killed …") to whatever ``sys.stdout`` is, so while the stream runs ``sys.stdout`` is a null
    device (a consumer parsing JSON lines met one of those notices between two records; stderr is
    no place for it either: it carries the errors as JSON)."""
    import contextlib

    records = sys.stdout
    with open(os.devnull, "w", encoding="utf-8") as nowhere, contextlib.redirect_stdout(nowhere):
        return _stream_to(args, records)


def _stream_to(args: argparse.Namespace, out) -> int:
    from .engine.config import ModelConfig
    from .records import record_lines, snapshot_records
    from .stream import bounded_lines, run_stream

    # the library's checks name its arguments (shards=, backend='ray'); here the flags are what was typed
    ray = args.backend == "ray"
    if args.address is not None and not ray:
        raise ValueError("--address joins a Ray cluster: use it with --backend ray.")
    if args.pipeline > 1 and not ray and args.shards is None:
        raise ValueError("--pipeline sends changes to shards ahead of their answers: use it with --shards W or "
                         "--backend ray.")
    config = ModelConfig(args.similarity, args.store, _limits(args), args.neighbours, args.backend, args.shards,
                         args.address, args.pipeline)
    collections = _collections(args.emit, config.neighbours is not None)
    if args.changes_only and not args.data:  # it was accepted and did nothing (a researcher's run)
        raise ValueError("--changes-only leaves out the starting data's records, so it needs --data (e.g. --data toy).")
    if args.data:
        from .data.datasets import load

        model = config.fit(load(args.data).interactions)
        if not args.changes_only:
            out.writelines(record_lines(snapshot_records(model, collections)))
            out.flush()
    else:
        model = config.empty()
    limits = config.limits
    # every line is answered and the stream goes on; at its end the exit status says whether any was refused (a
    # researcher's script saw 0 after every line had failed)
    _, rejected = run_stream(model, bounded_lines(sys.stdin.buffer, limits.request_chars), out, sys.stderr,
                             limits, collections)
    return 1 if rejected else 0


def _limits(args: argparse.Namespace):
    from .limits import CLI_LIMITS, STREAM_FLAGS

    changes = {field: getattr(args, field) for field in STREAM_FLAGS if getattr(args, field) is not None}
    return CLI_LIMITS.replace(**changes)


def _collections(text: str, lists: bool = False) -> tuple[str, ...]:
    """The collections named by ``--emit``; L (the neighbour lists) only for a model that has them."""
    from .records import COLLECTIONS, LETTERS, NEIGHBOURS

    short = {letter.lower(): name for name, letter in LETTERS.items()}
    known = (*COLLECTIONS, NEIGHBOURS)
    chosen = []
    for part in filter(None, (word.strip() for word in text.split(","))):
        name = short.get(part.lower(), part)
        if name not in known:
            raise ValueError(f"--emit: unknown collection {part!r}; use H, n, C, S, L or {', '.join(known)}.")
        if name == NEIGHBOURS and not lists:
            raise ValueError("--emit L: the neighbour lists exist only with --neighbours K (e.g. --neighbours 50).")
        chosen.append(name)
    if not chosen:
        raise ValueError("--emit: name at least one collection, e.g. --emit H,n,C,S.")
    return tuple(name for name in known if name in chosen)


def _bench(args: argparse.Namespace) -> int:
    from .bench import main as bench_main

    return bench_main(args)


def _download(args: argparse.Namespace) -> int:
    from .data.datasets import download

    path = download(args.name, cache_dir=args.cache_dir)
    print(f"{args.name} is ready in {path}")
    return 0


def _lab(args: argparse.Namespace) -> int:
    from .lab.cli import main as lab_main

    return lab_main(args)


def _neighbours(text: str) -> int:
    """--neighbours K as an int checked like the library checks it (argparse shows the message)."""
    from .engine.neighbours import check_neighbours
    from .errors import ArgumentError
    from .limits import MAX_NEIGHBOURS

    try:
        return check_neighbours(int(text))
    except (ValueError, ArgumentError):
        raise argparse.ArgumentTypeError(f"{text!r}: pass K, a whole number from 1 to {MAX_NEIGHBOURS:,}") from None


def build_parser() -> argparse.ArgumentParser:
    # the choices come from the registries that define them, so the CLI cannot drift from the library
    from .bench import FULL_OUTPUT, PARTS, QUICK_OUTPUT
    from .data.datasets import BUNDLED, DOWNLOADS
    from .engine.sharded import BACKENDS
    from .engine.similarity import MEASURES
    from .engine.store import LAYOUTS

    parser = argparse.ArgumentParser(prog="python -m amnesia", description=__doc__.splitlines()[0].replace("``", ""))
    commands = parser.add_subparsers(dest="command", required=True)

    stream = commands.add_parser("stream", help="apply JSON-line change requests from stdin, print change records",
                                 description="Apply JSON-line change requests from stdin and print change records. A "
                                 "refused line gets a JSON error on stderr and the stream goes on; the exit status is "
                                 "1 if any line was refused, else 0. Adding an interaction the model already has "
                                 "changes nothing and writes no records; removing one it lacks is refused.")
    stream.add_argument("--data", help=f"starting data set: {', '.join(BUNDLED)}, a downloaded name or a path (emitted at time 0)")
    stream.add_argument("--changes-only", action="store_true",
                        help="with --data: write only the records of the requests read, not the starting data's at "
                             "time 0 (MovieLens latest-small's are 26 million); what the app's stream download holds")
    stream.add_argument("--similarity", default=next(iter(MEASURES)), choices=list(MEASURES),
                        help="similarity measure (default: %(default)s)")
    stream.add_argument("--store", default=LAYOUTS[0], choices=LAYOUTS, help="how C is stored (default: %(default)s)")
    stream.add_argument("--neighbours", type=_neighbours, default=None, metavar="K",
                        help="keep each item's K most similar items (item-kNN, exact under every change; default: every neighbour); "
                             "the records show the lists only with --emit L")
    stream.add_argument("--backend", default=BACKENDS[0], choices=BACKENDS,
                        help="where C's rows live: this process, or Ray actors (pip install -r requirements-scale.txt) "
                             "(default: %(default)s)")
    stream.add_argument("--shards", type=int, default=None, metavar="W",
                        help="split C's rows by item over W shards (default: one store; 2 with --backend ray)")
    stream.add_argument("--address", default=None, metavar="ADDR",
                        help="with --backend ray: a cluster to join ('auto', 'ray://host:10001'); default: start a local Ray")
    stream.add_argument("--pipeline", type=int, default=1, metavar="N",
                        help="with shards: send up to N changes before waiting for the shards' answers (default 1: "
                             "each change confirmed, and undone everywhere if a shard cannot apply it)")
    stream.add_argument(
        "--emit",
        default="H,n,C,S",
        help="collections to write, comma-separated: H (interactions), n, C, S, and L (the neighbour lists, "
             "with --neighbours) (default: H,n,C,S)",
    )
    from .limits import CLI_LIMITS, STREAM_FLAGS

    for field, flag in STREAM_FLAGS.items():
        stream.add_argument(
            flag,
            dest=field,
            type=int,
            metavar="N",
            help=f"limit: {field.replace('_', ' ')} (default {getattr(CLI_LIMITS, field):,})",
        )
    stream.set_defaults(run=_stream)

    bench = commands.add_parser("bench", help=f"run a benchmark part and rewrite {FULL_OUTPUT} (with --quick, {QUICK_OUTPUT})")
    bench.add_argument("--part", default=PARTS[0], choices=PARTS, help="what to measure (default: %(default)s)")
    bench.add_argument("--large", action="store_true", help="same as --part large (MovieLens-25M shape, ~30 min, ~16 GB)")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions and smaller sizes, for smoke tests; "
                       f"written to {QUICK_OUTPUT} (git-ignored) unless --output says otherwise, never over docs/")
    bench.add_argument("--similarity", default=next(iter(MEASURES)), choices=list(MEASURES),
                       help="similarity measure (default: %(default)s)")
    bench.add_argument("--output", default=None,
                       help=f"report path (default: {FULL_OUTPUT}; {QUICK_OUTPUT} with --quick). "
                       "The part's section and JSON go to bench/ beside it, and the report is assembled from every "
                       "section in that folder")
    bench.set_defaults(run=_bench)

    download = commands.add_parser("download", help=f"fetch a MovieLens archive ({', '.join(DOWNLOADS)})")
    download.add_argument("name", help="which archive (checked by the library, which lists the choices)")
    download.add_argument("--cache-dir", default=None, help="where to keep archives (default: ~/.cache/amnesia)")
    download.set_defaults(run=_download)

    lab = commands.add_parser("lab", help="compare unlearning methods with their null control; write lab.json and lab.md")
    lab.add_argument("--data", default="movielens-small", help="toy, movielens-small, a downloaded name or a path")
    lab.add_argument("--forget-set", choices=["random", "core", "edge", "all"], default=None,
                     help="which users to forget (default: all three; random with --quick)")
    lab.add_argument("--seeds", type=int, default=None, help="models per side, N >= 3 (default 16; 4 with --quick)")
    lab.add_argument("--quick", action="store_true", help="one forget set, few seeds, a sample of users (about a minute)")
    lab.add_argument("--out", default=None, help="folder for lab.json and lab.md (default: docs for a full run; "
                     "lab-runs/quick, git-ignored, for --quick, so a quick run never overwrites the committed results)")
    lab.add_argument("--threads", type=int, default=1,
                     help="threads for ALS fits (default 1; 0 = every core: faster when the machine is idle, slower when busy)")
    lab.add_argument("--measure-targets", action="store_true", help="also time a --quick run and the page's run")
    lab.add_argument("--progress-json", action="store_true", help=argparse.SUPPRESS)
    lab.set_defaults(run=_lab)

    warm = commands.add_parser("warm", help="compile the engine's kernels now (about 40 s once after installing), "
                                            "so the app's first page does not wait for them")
    warm.add_argument("--data", action="append", choices=list(BUNDLED), default=None,
                      help="a bundled data set to warm on (repeat for several; default: each of them)")
    warm.set_defaults(run=_warm)
    return parser


def _warm(args: argparse.Namespace) -> int:
    from .dashboard.workspace import warm_app
    from .data.datasets import BUNDLED

    print("Compiling the engine's kernels into numba's cache (about 40 s after an install, a few seconds after)...",
          file=sys.stderr, flush=True)
    seconds = warm_app(args.data or tuple(BUNDLED))
    print(f"Ready in {seconds:.1f} s: the app's first page will not wait for compiling.", file=sys.stderr)
    return 0


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
