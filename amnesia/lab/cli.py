"""``python -m amnesia lab``: the lab's command line (checks the request, runs, writes the reports).

Kept apart from :mod:`.run` (the experiment) and :mod:`.report` (its documents) so that neither
imports the other back: the report reads the runner's page settings, and this module uses both.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from .data import FORGET_SETS
from .report import measure_targets, write_outputs
from .run import FULL_SEEDS, QUICK_SEEDS, LabConfig, quick_config, run_lab

def config_from_args(args: argparse.Namespace) -> LabConfig:
    """The run ``python -m amnesia lab`` asked for (checked before any work)."""
    forget_set = args.forget_set or ("random" if args.quick else "all")
    sets = FORGET_SETS if forget_set == "all" else (forget_set,)
    if args.quick:
        config = replace(quick_config(args.data, sets[0], args.seeds or QUICK_SEEDS), forget_sets=sets)
    else:
        config = LabConfig(data=args.data, forget_sets=sets, seeds=args.seeds or FULL_SEEDS)
    config = replace(config, threads=getattr(args, "threads", 1))
    config.check()
    return config


#: where ``python -m amnesia lab`` writes without ``--out``: the committed results for a full run, a
#: git-ignored working folder for ``--quick`` (it used to overwrite docs/lab.json with a 4-seed run)
FULL_OUT, QUICK_OUT = "docs", "lab-runs/quick"


def main(args: argparse.Namespace) -> int:
    """``python -m amnesia lab``: run, then write ``lab.json`` and ``lab.md`` to ``--out``."""
    config = config_from_args(args)
    out = Path(args.out if args.out is not None else QUICK_OUT if config.quick else FULL_OUT)
    if args.progress_json:

        def report(fraction: float, message: str) -> None:
            print(json.dumps({"progress": round(fraction, 4), "message": message}), flush=True)
    else:

        def report(fraction: float, message: str) -> None:
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)

    result = run_lab(config, report)
    if getattr(args, "measure_targets", False):
        result["targets"] = measure_targets(args.data)
    json_path, md_path = write_outputs(result, out)
    if args.progress_json:
        print(json.dumps({"done": True, "json": str(json_path), "markdown": str(md_path)}), flush=True)
    else:
        print(f"wrote {json_path} and {md_path} in {result['seconds_total']:.1f} s", file=sys.stderr)
    return 0
