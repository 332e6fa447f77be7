"""Benchmarks: ``python -m amnesia bench [--part PART]`` measures one part and rewrites docs/benchmarks.md.

Each part writes its figures to ``docs/bench/<part>.json`` and its section to
``docs/bench/<part>.md``; docs/benchmarks.md is those sections in a fixed order, so parts
measured at different times (the large one takes half an hour, the browser ones need
Chromium) live in one document, each saying when and where it was measured.

Parts: ``engine`` (MovieLens latest-small and a 1M-shaped set), ``large`` (a
MovieLens-25M-shaped set, both stores, the scaling curve), ``app`` (the dashboard in
Chromium: timings, load, memory), ``clicks`` (adds clicked straight
after typing, consecutive runs that hang), ``device`` (ONNX export and in-browser scoring) and ``ease``
(EASE forgotten by rank-one updates against a new inverse), ``quality`` (leave-latest-out accuracy of
every forgettable model, settings chosen on validation), ``neighbours`` (exact top-K lists beside
implicit's item-kNN) and ``ray`` (the engine sharded on a local Ray beside the in-process one).
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

from ..errors import AmnesiaError

#: Each part and the module that measures it. The app's parts (browser, and the server's memory with
#: Streamlit loaded) run from outside the library (tools/, in a source checkout): an installed
#: library measures the engine parts only.
PART_MODULES = {
    "engine": "amnesia.bench.engine",
    "large": "amnesia.bench.large",
    "app": "tools.bench_app",
    "app-ease": "tools.bench_app_ease",
    "clicks": "tools.bench_clicks",
    "device": "tools.bench_device",
    "harden": "tools.bench_harden",
    "ease": "amnesia.bench.ease",
    "quality": "amnesia.bench.quality",
    "quality-1m": "amnesia.bench.quality_1m",
    "neighbours": "amnesia.bench.neighbours",
    "ray": "amnesia.bench.ray",
}
PARTS = tuple(PART_MODULES)
#: Where the report goes: a full run's is the committed one; a --quick run's is git-ignored.
FULL_OUTPUT, QUICK_OUTPUT = "docs/benchmarks.md", "bench-runs/quick/benchmarks.md"
_TITLE = "# Benchmarks"
_INTRO = (
    "Measured on the 2-core, 24 GB development machine by `python -m amnesia bench --part PART` (one section per "
    "part, each with its own date; raw figures in `bench/PART.json` beside this file). Most parts are single runs "
    "on a shared machine: re-runs have differed by up to 2-3.5× on sub-millisecond figures and the speed-ups made of "
    "them; the `neighbours` part reports the median of five rounds with the smallest and largest round. Parts measured "
    "before 2026-12-07 ran with the compiled kernels' threads spinning between parallel loops (OpenMP's default, the "
    "library's until then); `import amnesia` now makes them sleep, and a part measured since says how they waited. "
    "Every target is listed with the figure measured and whether it was met."
)


def assemble(docs: Path) -> str:
    """docs/benchmarks.md from the sections present in docs/bench/."""
    sections = [(docs / "bench" / f"{part}.md") for part in PARTS]
    body = [path.read_text(encoding="utf-8").strip() for path in sections if path.exists()]
    return "\n\n".join([_TITLE, _INTRO, *body]) + "\n"


def main(args: argparse.Namespace) -> int:
    """Run one part, save its figures and section, and rebuild the whole report."""
    part = "large" if getattr(args, "large", False) else args.part
    try:
        module = importlib.import_module(PART_MODULES[part])
    except ModuleNotFoundError as error:
        if error.name not in ("tools", PART_MODULES[part]):
            raise
        raise AmnesiaError(
            f"The {part} part measures the app with the harness in tools/, which is not part of the "
            f"installed library: run `python -m amnesia bench --part {part}` from a source checkout."
        ) from None
    figures = module.run(args)
    # a quick run's smaller figures never replace the committed ones (a researcher's smoke test had rewritten
    # docs/benchmarks.md and docs/bench/harden.*, with nothing saying they came from --quick)
    output = Path(args.output or (QUICK_OUTPUT if getattr(args, "quick", False) else FULL_OUTPUT))
    folder = output.parent / "bench"
    folder.mkdir(parents=True, exist_ok=True)  # parents: bench-runs/quick/bench on a first quick run
    (folder / f"{part}.json").write_text(json.dumps(figures, indent=2, default=float), encoding="utf-8")
    (folder / f"{part}.md").write_text(module.markdown(figures), encoding="utf-8")
    output.write_text(assemble(output.parent), encoding="utf-8")
    for row in figures.get("targets", []):
        print(f"{row['label']:48} {row['target']:>14}  measured {row['value']:>10.4g} {row['unit']:3} {'met' if row['met'] else 'MISSED'}")
    print(f"wrote {folder / (part + '.md')} and {output}")
    return 0
