"""The lab's outputs: ``lab.json`` (the document :func:`amnesia.lab.run.run_lab` returns) and
``lab.md``, a report whose every sentence about the results is derived from the numbers.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..words import count, listing
from .agreement import retrain_pair_p_values
from .data import FORGET_SETS
from .registry import APPROXIMATE, METHODS
from .result import rows_of
from .verdict import by_construction, exact_told_apart, p_value, undecided, verdict_text
from .jobs import run_in_subprocess
from .run import ALPHA, PAGE_SEEDS

if TYPE_CHECKING:
    import pandas as pd

#: (measured figure, what, limit) on the 2-core machine. The full run's limit is 30 min since it grew by the
#: agreement study (more draws, splits and null pairs); its earlier 20 min was for a run without it, which is no
#: longer made, and scoring today's run against both read as "not met" and "met" side by side (a reader's review).
TARGETS = [
    ("quick_cli_seconds", "`python -m amnesia lab --quick` on MovieLens latest-small", 60.0),
    ("page_quick_seconds", "the Lab page's quick run (MovieLens, one forget set, {page_quick_seeds} seeds)", 30.0),
    ("full_run_seconds", "full run: all methods, three forget sets, N = 16, with the agreement study", 30 * 60.0),
]


def write_outputs(result: dict, out: Path) -> tuple[Path, Path]:
    """Write ``lab.json`` and ``lab.md`` into ``out`` (created if missing)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "lab.json", out / "lab.md"
    json_path.write_text(json.dumps(result, indent=1, allow_nan=True) + "\n", encoding="utf-8")
    md_path.write_text(markdown(result), encoding="utf-8")
    return json_path, md_path


def measure_targets(data: str = "movielens-small") -> dict:
    """Time the quick command and the page's quick run, each in a fresh process, now."""
    figures = {}
    with tempfile.TemporaryDirectory(prefix="amnesia-lab-quick-") as out:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "amnesia", "lab", "--quick", "--data", "movielens-small", "--out", out],
            check=True,
            capture_output=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        figures["quick_cli_seconds"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    run_in_subprocess("movielens-small", "random", PAGE_SEEDS)
    figures["page_quick_seconds"] = round(time.perf_counter() - started, 1)
    figures["page_quick_seeds"] = PAGE_SEEDS
    figures["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return figures


# ---------------------------------------------------------------------------- formatting
def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    # a true minus, as signed() writes: "−0.035 [-0.048, -0.023]" mixed the two in one cell
    return f"{value:.{digits}f}".replace("-", "−")


def interval(pair: list | None, digits: int = 3) -> str:
    if not pair or pair[0] is None:
        return ""
    return f" [{fmt(pair[0], digits)}, {fmt(pair[1], digits)}]"


def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 0.001:
        return f"{value * 1000:.2f} ms"
    if value < 1:
        return f"{value * 1000:.3g} ms"
    return f"{value:.2f} s"


def speedup(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}×" if value < 100 else f"{value:,.0f}×"


def within(value: float | None, pair: list | None) -> bool:
    return value is not None and pair is not None and pair[0] is not None and pair[0] - 1e-9 <= value <= pair[1] + 1e-9


# ---------------------------------------------------------------------------- reading the numbers
def told_apart(row: dict) -> bool:
    """Does the attack tell this row's models from its retrains? The permutation test at ALPHA, or,
    with one deterministic model a side (no test), whether they differ at all."""
    p = row.get("epsilon_p_value")
    return p <= ALPHA if p is not None else bool(row["epsilon"])


def p_text(row: dict) -> str:
    """``p = 0.031`` (the permutation test), or what stands for it with one model a side."""
    return "one model a side, no test" if row.get("epsilon_p_value") is None else f"p = {p_cell(row)}"


def reading(result: dict, kind: str) -> list[str]:
    """Plain sentences about one forget set, each derived from the rows (nothing hoped for).

    A criterion is only used to praise a method if it separates the original model (nothing
    forgotten) from the null control; otherwise the sentence says the criterion is blind here.
    """
    rows = rows_of(result, kind)
    null = result["null_control"][kind]
    lines = []
    original = rows.get("original")
    if original and told_apart(original):
        lines.append(
            f"The per-user attack works: the original model (nothing forgotten) sits at ε = {fmt(original['epsilon'], 2)} "
            f"({fmt(100 * (original['separable_share'] or 0), 0)} % of users fully separated; {p_text(original)}) against the "
            f"null control's {fmt(null['epsilon'], 2)}{interval(null['epsilon_ci'], 2)}."
        )
    elif original:
        lines.append(
            f"The per-user attack cannot tell the original model (nothing forgotten) from retrained ones (ε = "
            f"{fmt(original['epsilon'], 2)}, {p_text(original)}; null {fmt(null['epsilon'], 2)}{interval(null['epsilon_ci'], 2)}): "
            "on this forget set no method's verdict says anything."
        )
    errors = null.get("verdict_false_positives")
    if errors:
        lines.append(
            f"The verdict's test wrongly told retrains from retrains in {errors['rejected']} of {errors['splits']} random "
            f"{result['config']['seeds']} + {result['config']['seeds']} splits of the {2 * result['config']['seeds']} retrained "
            f"models (a false-positive rate of {fmt(100 * errors['rate'], 0)} % at a nominal {fmt(100 * errors['alpha'], 0)} %; "
            "the splits share models, so this checks the level on these data rather than counting independent trials)."
        )
    in_sample = [r for r in rows.values() if r.get("epsilon_in_sample") is not None and r["method"] != "retrain"]
    if in_sample and null.get("epsilon_in_sample") is not None:
        lines.append(
            f"On the challenge's own scale (its in-sample threshold estimator, capped alike), retrain vs retrain reads "
            f"ε = {fmt(null['epsilon_in_sample'], 2)} at N = {result['config']['seeds']}, not 0: "
            + ", ".join(f"{r['label']} {fmt(r['epsilon_in_sample'], 2)}" for r in in_sample)
            + ". Compare each with that null, not with 0."
        )
    for name, method in METHODS.items():
        before = rows.get(name) if method.family == "reference" and name != "original" else None
        if before and before["epsilon"] is not None:
            sees = told_apart(before)
            # one deterministic model a side: any difference reaches the cap, so ε = 3 says the outputs differ, no more
            # (a reviewer read "it can see this model remember" as a claim about the attack's power)
            single = before.get("epsilon_p_value") is None
            lines.append(
                f"{before['label']}: the attack against {method.model}'s own retrain reaches ε = {fmt(before['epsilon'], 2)} "
                f"({fmt(100 * (before['separable_share'] or 0), 0)} % of users fully separated), "
                + ("with one deterministic model a side, as any difference between their outputs on the forgotten users "
                   "does: the model remembers them, and the forgotten model's ε = 0 (outputs identical to its retrain's) "
                   "is a finding about the model, not a blind attack." if sees and single else
                   "so it can see this model remember, and the forgotten model's ε = 0 is a finding about the model, not "
                   "a blind attack." if sees else
                   "no more than between two retrains: on this set the attack cannot see this model remember, so its "
                   "forgotten model's ε says little beyond the certificate.")
            )
    forgetting = [r for r in rows.values() if r["family"] != "reference" and r["forgets"] and not by_construction(r)]
    open_ = [r for r in rows.values() if r["family"] != "reference" and undecided(r)
             and not by_construction(r)]
    failing = [r for r in rows.values() if r["family"] != "reference" and not r["forgets"] and not exact_told_apart(r)
               and not undecided(r)]
    if open_:  # too few models for the test to reject at all: neither "forgets" nor "told apart"
        lines.append(
            f"Cannot tell (with {open_[0]['models']} models a side the permutation test cannot reject even for models "
            f"told apart completely: their p is {p_value(open_[0]['epsilon_p_floor'])}, above {ALPHA}): "
            + ", ".join(f"{r['label']} (ε = {fmt(r['epsilon'], 2)})" for r in open_) + "."
        )
    if forgetting:
        lines.append(
            f"Forgetting (the permutation test cannot tell their models from retrains at {ALPHA}): "
            + ", ".join(f"{r['label']} (ε = {fmt(r['epsilon'], 2)}, {seconds(r['seconds'])})" for r in forgetting)
            + "."
        )
    if failing:
        lines.append(
            f"Not forgetting (the permutation test tells their models from retrains at {ALPHA}): "
            + ", ".join(
                f"{r['label']} (ε = {fmt(r['epsilon'], 2)}, {p_text(r)}, {fmt(100 * (r['separable_share'] or 0), 0)} % of users "
                "fully separated)"
                for r in failing
            )
            + "."
        )
    for r in rows.values():
        if why := exact_told_apart(r):
            lines.append(
                f"{r['label']} was told apart from its retrains ({p_text(r)}, ε = {fmt(r['epsilon'], 2)}) although it is "
                f"exact by construction: {why}. Either this is one of the false alarms a test at {ALPHA} raises 1 time in 20 "
                "(the test's rate on retrains is measured below), or its implementation is not what the construction "
                "says; this run alone cannot tell which, so the row keeps its measured verdict."
            )
    fast_exact = [  # certified exact models count here: their speed is measured, only their ε is by construction
        r for name, r in rows.items()
        if r["family"] == "exact" and name != "retrain" and (r["forgets"] or exact_told_apart(r))
        and r.get("speedup_per_request")
    ]
    if fast_exact:
        best = max(fast_exact, key=lambda r: r["speedup_per_request"])
        own = METHODS[best["method"]].own_retrain if best["method"] in METHODS else None
        lines.append(
            f"Largest speed-up of an exact method over retraining its own model, one request at a time: {best['label']}, "
            f"{seconds(best['seconds_per_request'])} per "
            f"forgotten user, {speedup(best['speedup_per_request'])} faster than retraining {own or 'it'} "
            f"({seconds(best['retrain_seconds'])}"
            + ("; the table's Retrain row times the factorisation's retrain" if own else "")
            + f"); the whole set of {result['forget_sets'][kind]['forget_users']} at once: "
            f"{seconds(best['seconds'])}, {speedup(best['speedup'])}."
        )
    itemcf, retrain = rows.get("item-cf"), rows.get("retrain")
    if itemcf and itemcf["speedup"] is not None and itemcf["speedup"] < 1:
        lines.append(
            f"Forgetting all {result['forget_sets'][kind]['forget_users']} of these users one by one took longer than one "
            f"item-CF retrain without them ({speedup(itemcf['speedup'])}): a forget costs about the square of a user's "
            "history, and retraining without many heavy users is cheap, so a large batch of them is better served by a retrain."
        )
    if (
        itemcf
        and retrain
        and itemcf["forgets"]
        and itemcf.get("certificate", {}).get("equal")
        and (retrain["forgetting_quality"] or 0) < 1
    ):
        certified = [rows[n]["label"] for n, m in METHODS.items() if m.own_retrain and rows.get(n, {}).get("certificate", {}).get("equal")]
        lines.append(
            f"{listing(certified)} score F = 1 because they are deterministic: the model after forgetting is "
            "identical to a retrain (certified), so there is no seed noise at all; that is why they are shown apart. "
            "Retrain and SISA are exact too; their F below 1 is the noise of comparing randomly initialised models with "
            f"N = {result['config']['seeds']} samples, not remembering."
        )
    exact = [r for name, r in rows.items() if r["family"] == "exact" and name != "retrain"]
    if exact:
        # paired over users against the retrained factorisations: the null's own interval of NDCG@10 is
        # mostly the spread between users, which hid a SISA 0.031 lower on the same users (a reviewer)
        lines.append(
            f"Utility of the other exact methods against the retrained factorisation (NDCG@10 {fmt(null['ndcg_at_10'], 3)}), "
            "as the difference on the same users: "
            + ", ".join(f"{r['label']} {fmt(r['ndcg_at_10'], 3)}, {_compared(r.get('ndcg_gap_to_als'), r.get('ndcg_gap_to_als_ci'))}"
                        for r in exact)
            + "."
        )
    sisa = rows.get("sisa")
    if sisa and sisa.get("affected_shards"):
        lines.append(
            f"SISA: the forgotten users sat in {sisa['affected_shards']} of its {sisa['shards']} shards, so forgetting them "
            f"together took {seconds(sisa['seconds'])} against {seconds(sisa['retrain_seconds'])} for retraining every shard; "
            f"one request retrains one shard ({seconds(sisa.get('seconds_per_request'))}, "
            f"{speedup(sisa.get('speedup_per_request'))} faster)."
        )
    approximate = [rows[name] for name in APPROXIMATE if name in rows]
    closest = min((r for r in approximate if r["epsilon"] is not None), key=lambda r: r["epsilon"], default=None)
    if closest and not closest["forgets"]:
        lines.append(
            f"Closest approximate method: {closest['label']} (ε = {fmt(closest['epsilon'], 2)}, F = "
            f"{fmt(closest['forgetting_quality'], 3)}, against the null's {fmt(null['epsilon'], 2)} and "
            f"{fmt(null['forgetting_quality'], 3)}), "
            + (f"{speedup(closest['speedup'])} faster than a retrain." if (closest["speedup"] or 0) >= 1 else
               f"{speedup(1 / closest['speedup'])} slower than a retrain." if closest["speedup"] else "time not measured.")
        )
    # utility as the paired difference from the retrained factorisations (same users, intervals over models, then users)
    by_side: dict[str, list[dict]] = {}
    for r in approximate:
        by_side.setdefault(_utility_side(r), []).append(r)
    for side, words in (("no different at this N", "Keep utility (NDCG@10 no different from a retrain's on the same users: "
                                                    "the difference's interval holds 0)"),
                        ("lower", "Lose utility (NDCG@10 lower than a retrain's on the same users)"),
                        ("higher", "Raise utility (NDCG@10 higher than a retrain's on the same users)")):
        if by_side.get(side):
            lines.append(f"{words}: " + ", ".join(
                f"{r['label']} ({fmt(r['ndcg_at_10'], 3)}, {signed(r.get('ndcg_gap_to_als'))}"
                f"{interval(r.get('ndcg_gap_to_als_ci'), 3)})" for r in by_side[side]) + ".")
    if original and within(original["mia_auc"], null["mia_auc_ci"]):
        lines.append(
            f"The population membership attack scores the original model (nothing forgotten) like the retrained ones "
            f"(AUC {fmt(original['mia_auc'], 2)}, null {fmt(null['mia_auc'], 2)}{interval(null['mia_auc_ci'], 2)}): it does "
            "not see what was forgotten, so passing it proves nothing; the per-user attack above is the one that sees."
        )
    elif original:
        passes = [r for r in approximate if within(r["mia_auc"], null["mia_auc_ci"])]
        if passes:
            lines.append(
                f"Pass the population membership attack (AUC within the null's interval, while the original's is "
                f"{fmt(original['mia_auc'], 2)}): "
                + ", ".join(
                    f"{r['label']} (AUC {fmt(r['mia_auc'], 2)}, yet ε = {fmt(r['epsilon'], 2)} per user)"
                    for r in passes
                )
                + "."
            )
    return lines




def summary(result: dict) -> list[str]:
    """A few sentences across forget sets, each computed from the rows."""
    kinds = [k for k in FORGET_SETS if k in result["null_control"]]
    per_kind = {k: rows_of(result, k) for k in kinds}
    constructed = [n for n in per_kind[kinds[0]] if all(by_construction(per_kind[k][n]) for k in kinds if n in per_kind[k])]
    names = [n for n, r in per_kind[kinds[0]].items() if r["family"] != "reference" and n not in constructed
             and not any(undecided(per_kind[k][n]) for k in kinds if n in per_kind[k])]
    always = [
        per_kind[kinds[0]][n]["label"]
        for n in names
        if all(per_kind[k][n]["forgets"] for k in kinds if n in per_kind[k])
    ]
    never = [
        per_kind[kinds[0]][n]["label"]
        for n in names
        if not any(per_kind[k][n]["forgets"] for k in kinds if n in per_kind[k])
    ]
    lines = []
    where = "on every forget set" if len(kinds) > 1 else "here"
    if constructed:
        lines.append(
            "Equal to a retrain by construction, so their verdict is no evidence either way: "
            + ", ".join(f"{per_kind[kinds[0]][n]['label']} ({by_construction(per_kind[kinds[0]][n])})" for n in constructed)
            + "."
        )
    if always:
        lines.append(f"Forget {where}: {', '.join(always)}.")
    if never:
        lines.append(
            f"Forget on no forget set: {', '.join(never)}." if len(kinds) > 1 else f"Do not forget: {', '.join(never)}."
        )
    lines += _agreement_summary(result)
    closest = []
    for k in kinds:
        candidates = [r for n, r in per_kind[k].items() if n in APPROXIMATE and r["epsilon"] is not None]
        if candidates:
            best = min(candidates, key=lambda r: r["epsilon"])
            null = result["null_control"][k]
            closest.append(
                f"{k}: {best['label']} at ε = {fmt(best['epsilon'], 2)} (null {fmt(null['epsilon'], 2)}"
                f"{interval(null['epsilon_ci'], 2)})"
            )
    if closest:
        lines.append("The best approximate method per forget set: " + "; ".join(closest) + ".")
    first = per_kind[kinds[0]]
    requests = [
        f"{r['label']} {speedup(r['speedup_per_request'])}{spread_text(r.get('seconds_per_request_spread'))}"
        + (f" (derived, not timed alone: its forget time ÷ the {r['affected_shards']} shards it retrained)"
           if r.get("affected_shards") and not r.get("seconds_per_request_spread") else "")
        for r in first.values() if r.get("speedup_per_request")
    ]
    if requests:
        lines.append(
            f"One deletion request at a time ({kinds[0]} set), speedup over a retrain of the same model: "
            + ", ".join(requests)
            + "."
        )
    for name, method in METHODS.items():
        if method.own_retrain is None:
            continue
        exact = [per_kind[k][name] for k in kinds if name in per_kind[k]]
        if exact and all(r.get("certificate", {}).get("equal") for r in exact):
            times = ", ".join(f"{r['forget_set']} {seconds(r.get('seconds_per_request'))}" for r in exact)
            gaps = ", ".join(
                f"{r['forget_set']} {fmt(r['ndcg_at_10'], 3)} vs {fmt(result['null_control'][r['forget_set']]['ndcg_at_10'], 3)}"
                for r in exact
            )
            lines.append(
                f"{method.model_title} forgets exactly (certified on every set) in {times} per "
                f"user; its NDCG@10 against the retrained factorisation's: {gaps}."
            )
    return lines


def spread_text(spread: dict | None) -> str:
    """``" (median 52 ms, 48–61 ms over 7 runs)"`` from repeated timings, ``""`` without them."""
    if not spread:
        return ""
    return (f" (median {seconds(spread['median'])}, {seconds(spread['min'])}–{seconds(spread['max'])} over "
            f"{count(spread['runs'], 'run')})")


def cost_text(speedup: float) -> str:
    """A request's cost against a retrain's from its speed-up: ``"1/4.3 of a retrain"``,
    ``"1/4,218 of a retrain"``, and for a method slower than retraining ``"1.2× a retrain"``
    (``"1/0.8 of a retrain"`` read as a saving)."""
    if speedup >= 1:
        return f"1/{speedup:.1f} of a retrain" if speedup < 9.95 else f"1/{speedup:,.0f} of a retrain"
    return f"{1 / speedup:.1f}× a retrain"


def _approximate_costs(result: dict, kind: str) -> str:
    """'Fine-tune 1/5.0 of a retrain, ...' from the rows' measured speed-ups per request."""
    rows = rows_of(result, kind)
    parts = [f"{METHODS[name].label} {cost_text(rows[name]['speedup_per_request'])}"
             for name in APPROXIMATE if rows.get(name, {}).get("speedup_per_request")]
    return ", ".join(parts) or "not measured"


def headline(result: dict) -> list[str]:
    """One bullet per method across forget sets: does it forget, how fast, at what utility."""
    kinds = [k for k in FORGET_SETS if k in result["null_control"]]
    lines = []
    names = []
    for row in result["rows"]:
        if row["method"] not in names and row["family"] != "reference":
            names.append(row["method"])
    for name in names:
        per = [rows_of(result, k)[name] for k in kinds if name in rows_of(result, k)]
        forgets = [r["forget_set"] for r in per if r["forgets"]]
        alarms = [r for r in per if exact_told_apart(r)]
        if any(undecided(r) for r in per):  # the test could not reject: no verdict to give
            verdict = f"cannot tell with {per[0]['models']} models a side"
        elif alarms:  # exact by construction, yet told apart: measured, with what it can mean
            verdict = ("exact by construction, yet told apart from its retrains on "
                       + ", ".join(f"{r['forget_set']} ({p_text(r)})" for r in alarms)
                       + ": a false alarm or a flaw, which this run cannot tell apart")
        elif len(per) == 1:
            verdict = "forgets" if forgets else "does not forget"
        else:
            verdict = (
                "forgets on every forget set"
                if len(forgets) == len(per)
                else "forgets on no forget set"
                if not forgets
                else "forgets on " + ", ".join(forgets) + " only"
            )
        times = ", ".join(f"{r['forget_set']} {seconds(r['seconds'])}" for r in per)
        lines.append(
            f"- **{per[0]['label']}** ({per[0]['family']}): {verdict}; time {times}; "
            f"NDCG@10 {', '.join(fmt(r['ndcg_at_10'], 3) for r in per)}."
        )
    return lines


def table_frame(result: dict, kind: str) -> pd.DataFrame:
    """The results of one forget set as a display table (strings and numbers, one row per method)."""
    import pandas as pd

    records = []
    for r in rows_of(result, kind).values():
        records.append(
            {
                "method": r["label"],
                "forgets?": "reference" if r["family"] == "reference" else "by construction" if by_construction(r)
                else "told apart (exact by construction)" if exact_told_apart(r)
                else f"can't tell (N = {r['models']})" if undecided(r) else ("yes" if r["forgets"] else "no"),
                "kind": r["family"],
                "time": seconds(r["seconds"]) if r["family"] != "reference" else "–",
                "speedup": speedup(r["speedup"]),
                "ε [95 % CI]": f"{fmt(r['epsilon'], 2)}{interval(r['epsilon_ci'], 2)}",
                "p": p_cell(r),
                "F": r["forgetting_quality"],
                "final score": r["final_score"],
                "MIA AUC": r["mia_auc"],
                "NDCG@10": r["ndcg_at_10"],
                "NDCG@10 − retrained ALS [95 % CI]": f"{signed(r.get('ndcg_gap_to_als'))}"
                                                     f"{interval(r.get('ndcg_gap_to_als_ci'), 3)}",
                "Recall@10": r["recall_at_10"],
                "fairness gap": r["fairness_gap"],
                "top-10 overlap": r["top10_overlap_with_retrain"],
            }
        )
    return pd.DataFrame(records)


#: The table's blocks, in order: (key, title, what it is for). A row is in one of them (:func:`block_of`).
TABLE_BLOCKS = (
    ("measured", "Asked to forget, measured against retrains",
     "Each method's models against models retrained without the forgotten users: the verdict is evidence."),
    ("reference", "Nothing forgotten: what the attack sees in a model that remembers",
     "The original models, before any forgetting: their ε shows the attack could have found something."),
    ("construction", "Equal to a retrain by construction",
     "Their verdict is no evidence either way; the Retrain row is the null control every row is read against."),
)


def block_of(row: dict) -> str:
    """Which of :data:`TABLE_BLOCKS` a lab row belongs to."""
    if by_construction(row):
        return "construction"
    return "reference" if row["family"] == "reference" else "measured"


def table_blocks(result: dict, kind: str) -> list[tuple[str, str, pd.DataFrame]]:
    """The results of one forget set as display tables, one per non-empty block of
    :data:`TABLE_BLOCKS`: (title, what it is for, table). The by-construction block says why each
    row is there in its ``why`` column."""
    table = table_frame(result, kind)
    rows = list(rows_of(result, kind).values())
    keys = [block_of(r) for r in rows]
    blocks = []
    for key, title, purpose in TABLE_BLOCKS:
        chosen = [n for n, k in enumerate(keys) if k == key]
        if not chosen:
            continue
        part = table.iloc[chosen].reset_index(drop=True)
        if key == "construction":
            part.insert(1, "why", [by_construction(rows[n]) for n in chosen])
        blocks.append((title, purpose, part))
    return blocks


def _side(gap: float | None, ci: list | None) -> str:
    """'higher', 'lower' or 'no different at this N' from a difference's interval; 'not measured'."""
    if gap is None or not ci or ci[0] is None:
        return "not measured"
    return "higher" if ci[0] > 0 else "lower" if ci[1] < 0 else "no different at this N"


def _compared(gap: float | None, ci: list | None) -> str:
    """'higher (+0.031 [0.019, 0.042])', 'lower (…)' or 'no different at this N (…)' from a difference and its interval."""
    word = _side(gap, ci)
    return word if word == "not measured" else f"{word} ({signed(gap)}{interval(ci, 3)})"


def _utility_side(row: dict) -> str:
    """:func:`_side` of a row's paired NDCG@10 difference from the retrained factorisations."""
    return _side(row.get("ndcg_gap_to_als"), row.get("ndcg_gap_to_als_ci"))


def questions(result: dict) -> list[str]:
    """Markdown: the lab's two questions answered from the rows (and the agreement study), with
    "cannot tell" where the data cannot tell."""
    kinds = [k for k in FORGET_SETS if k in result["null_control"]]
    per_kind = {k: rows_of(result, k) for k in kinds}
    lines = ["## Two questions, answered from the table", "", "**Does exact forgetting cost accuracy?** An exact method "
             "leaves a model equal to its retrain (certified below), so forgetting itself costs nothing; what differs is the "
             "model. NDCG@10 of each exactly forgetting model minus the retrained factorisation's, paired over users:", ""]
    for name, method in METHODS.items():
        if method.own_retrain is None or name.startswith("original"):
            continue
        found = [per_kind[k][name] for k in kinds if name in per_kind[k]]
        if found:
            lines.append(f"- {method.model_title}: " + "; ".join(
                f"{r['forget_set']} {_compared(r.get('ndcg_gap_to_als'), r.get('ndcg_gap_to_als_ci'))}" for r in found) + ".")
    study = result.get("agreement", {}).get("forgets", {})
    lines += ["", f"**Which approximate methods forget?** At N = {result['config']['seeds']} (the permutation test, "
              f"p ≤ {ALPHA}: told apart from retrains):", ""]
    for name in APPROXIMATE:
        found = [per_kind[k][name] for k in kinds if name in per_kind[k]]
        if not found:
            continue
        said = "; ".join(f"{r['forget_set']} {'forgets' if r['forgets'] else 'cannot tell' if undecided(r) else 'does not forget'} ({p_text(r)})" for r in found)
        shaky = [f"{k} {e['forgets']} of {e['runs']}" for k, e in study.get(name, {}).items() if 0 < e["forgets"] < e["runs"]]
        extra = (f"; on other draws and splits at N = {result['agreement']['seeds']} it was said to forget on "
                 + ", ".join(shaky) + " runs: cannot tell there at that N") if shaky else ""
        lines.append(f"- {METHODS[name].label}: {said}{extra}.")
    return lines + [""]


def _agreement_summary(result: dict) -> list[str]:
    """Headline sentences from the agreement study: verdicts that change with the draw, and the
    test's false positives on every independent retrain-vs-retrain pair (the study's and the main
    run's Retrain rows)."""
    study = result.get("agreement")
    if not study:
        return []
    lines = []
    runs = study["splits"] * study["draws"]
    shaky = [f"{METHODS[name].label if name in METHODS else name} on {kind} ({entry['forgets']} of {entry['runs']} say it forgets"
             f"{_atypical_runs(study, name, kind)})"
             for name, per in study["forgets"].items() for kind, entry in per.items()
             if 0 < entry["forgets"] < entry["runs"] and name != "retrain"]  # a retrain's rejections: false positives, below
    if shaky:
        lines.append(f"Verdicts that change between runs of other users, splits and seeds ({runs} runs each at "
                     f"N = {study['seeds']}; see *Do the verdicts hold?*): " + "; ".join(shaky) + ".")
    else:
        lines.append(f"Every verdict of the factorisation's methods held in all {runs} runs of other splits and draws "
                     f"(N = {study['seeds']}; see *Do the verdicts hold?*).")
    lines.append(f"The verdict's test told a retrain from retrains of other seeds in {false_positives_text(result)}.")
    return lines


def _atypical_runs(study: dict, name: str, kind: str) -> str:
    """For a method whose verdict changed between runs: how many of its minority runs also told
    the retrain from its references (such a run may be atypical rather than the method), "" if none
    or without the runs."""
    runs = [run for run in study.get("runs", []) if run["forget_set"] == kind and name in run["verdicts"]]
    forgets = [run["verdicts"][name]["p_value"] > study["alpha"] for run in runs]
    if not runs:
        return ""
    if sum(forgets) * 2 == len(forgets):  # split evenly: no side is "the other"
        return ""
    majority = sum(forgets) * 2 > len(forgets)
    minority = [run for run, said in zip(runs, forgets) if said != majority]
    odd = [run for run in minority if run["verdicts"]["retrain"]["p_value"] <= study["alpha"]]
    if not odd:
        return ""
    ps = ", ".join(p_value(run["verdicts"]["retrain"]["p_value"]) for run in odd)
    if len(minority) == 1:
        return f"; the one run that said otherwise also told the retrain from its references, p = {ps}"
    return f"; {len(odd)} of the {len(minority)} runs that said otherwise also told the retrain from its references, p = {ps}"


def _main_null_p_values(result: dict) -> list[float]:
    """The main run's Retrain rows' p: each a retrain against its references, an independent pair."""
    return [row["epsilon_p_value"] for row in result["rows"] if row["method"] == "retrain" and row.get("epsilon_p_value") is not None]


def _null_pair_p_values(result: dict) -> list[float] | None:
    """The verdict's p on every independent retrain-vs-retrain pair of a run: the agreement
    study's runs, then the main run's Retrain rows; None without the study's runs."""
    study = result.get("agreement")
    if not study or not study.get("runs"):
        return None
    return retrain_pair_p_values(study["runs"]) + _main_null_p_values(result)


def false_positives(result: dict) -> tuple[int, int] | None:
    """(rejected, pairs): the verdict's test on every independent retrain-vs-retrain pair of a run
    (the agreement study's and the main run's Retrain rows), counted from the pairs' p; from the
    study's stored totals when a result lacks its runs. None without the study."""
    study = result.get("agreement")
    if not study:
        return None
    values = _null_pair_p_values(result)
    if values is not None:
        return sum(p <= study["alpha"] for p in values), len(values)
    main = _main_null_p_values(result)
    return (study["retrain_pairs"]["rejected"] + sum(p <= study["alpha"] for p in main),
            study["retrain_pairs"]["pairs"] + len(main))


def null_calibration(result: dict) -> dict[str, float] | None:
    """Whether the verdict's test keeps its level, from every independent retrain-vs-retrain pair's p
    (the agreement study's runs and the main run's Retrain rows); None without the study's runs.

    A test whose false-positive rate is exactly its level (a permutation test's is at most, and
    here close to, 5 %) gives a count of rejections above 5 % about as often as below, so the
    count alone cannot show "at most 5 %". Returned: ``pairs``; ``by_chance``, the probability that
    a test with a rate of exactly the level rejects in more than that share of this many pairs;
    and two one-sided checks for a test that rejects too often: ``above``, the binomial p of "the
    rate exceeds the level", and ``uniform``, the Kolmogorov-Smirnov p of "the pairs' p-values
    lie below the uniform distribution a valid test's p follows under H0" (too many small p; the
    permutation p lies on a 1/(1 + relabellings) grid, fine enough for the continuous test)."""
    from scipy.stats import binom, binomtest, kstest

    values = _null_pair_p_values(result)
    if values is None:
        return None
    alpha = result["agreement"]["alpha"]
    rejected, pairs = false_positives(result)
    return {"pairs": pairs,
            "by_chance": float(binom.sf(math.floor(pairs * alpha), pairs, alpha)),
            "above": float(binomtest(rejected, pairs, alpha, alternative="greater").pvalue),
            "uniform": float(kstest(values, "uniform", alternative="greater").pvalue)}


def calibration_text(result: dict) -> str:
    """The sentence that reads :func:`null_calibration` ("" without the study's runs)."""
    found = null_calibration(result)
    if found is None:
        return ""
    alpha = result["agreement"]["alpha"]
    nominal = fmt(100 * alpha, 0)
    worry = found["above"] <= alpha or found["uniform"] <= alpha
    return (f"{'Signs' if worry else 'No sign'} that the test raises false alarms more often than {nominal} % of the time: "
            f"a one-sided binomial test of a rate above {nominal} % gives p = {found['above']:.2f}, and the {found['pairs']} pairs' p-values "
            f"show {'an' if found['uniform'] <= alpha else 'no significant'} excess of small values over the uniform "
            f"distribution a valid test gives retrains (one-sided Kolmogorov-Smirnov p = {found['uniform']:.2f}). Even a test whose "
            f"rate is exactly {nominal} % rejects in more than {nominal} % of {found['pairs']} pairs with probability "
            f"{found['by_chance']:.2f}, so the count alone cannot show a rate of at most {nominal} %; these two checks, "
            "which use every pair's p, are the sharper reading.")


def false_positives_text(result: dict) -> str:
    """"k of n independent pairs (r %, 95 % interval [..]; nominal 5 %)", the interval exact (Clopper-Pearson)."""
    from scipy.stats import binomtest

    wrong, pairs = false_positives(result)
    low, high = binomtest(wrong, pairs).proportion_ci(confidence_level=0.95, method="exact")
    alpha = result["agreement"]["alpha"]
    return (f"{wrong} of {pairs} independent pairs ({100 * wrong / pairs:.1f} %, 95 % interval "
            f"[{100 * low:.1f}, {100 * high:.1f}] %; nominal {fmt(100 * alpha, 0)} %)")


def agreement_section(result: dict) -> list[str]:
    """Markdown: in how many runs of the agreement study (other splits and draws) each method was
    said to forget, per forget set, and the test's false positives on those runs' retrains."""
    study = result.get("agreement")
    if not study:
        return []
    kinds = [k for k in FORGET_SETS if any(k in per for per in study["forgets"].values())]
    runs = study["splits"] * study["draws"]
    pairs = study["retrain_pairs"]
    lines = [
        f"## Do the verdicts hold? ({count(study['splits'], 'train/test split')} × {count(study['draws'], 'forget-set draw')})",
        "",
        f"Each factorisation method again on every split × draw of each forget set, N = {study['seeds']} models a side, "
        f"the attack's statistic only, the same test (p ≤ {study['alpha']}: does not forget; "
        f"{study['permutations']} relabellings). SISA and the certified exact models are left out (SISA's 32 shard models "
        "would double the cost; an exact model's verdict cannot change with a draw). A cell counts the runs in which the "
        "method was said to forget.",
        "",
        "| method | " + " | ".join(kinds) + " |",
        "|---|" + "---:|" * len(kinds),
    ]
    for name, per in study["forgets"].items():
        label = METHODS[name].label if name in METHODS else name
        lines.append(f"| {label} | " + " | ".join(
            f"{per[k]['forgets']} of {per[k]['runs']}" if k in per else "–" for k in kinds) + " |")
    lines += [
        "",
        f"- Retrain vs retrain ({count(pairs.get('per_run', 1), 'independent pair')} per run: the run's retrain "
        f"against its references{', and more pairs of fresh retrains' if pairs.get('per_run', 1) > 1 else ''}): the test "
        f"said *does not forget* in {pairs['rejected']} of {pairs['pairs']} pairs "
        f"({100 * pairs['rejected'] / max(1, pairs['pairs']):.1f} %, nominal {fmt(100 * study['alpha'], 0)} %). "
        f"With the main run's Retrain rows: {false_positives_text(result)}. {calibration_text(result)}".rstrip(),
        f"- The Retrain row counts the test's false alarms: a retrain is what every method is compared with, so each "
        f"run short of {runs} of {runs} is one, and a test at level {fmt(100 * study['alpha'], 0)} % raises one in about "
        f"{round(1 / study['alpha'])} runs.",
        f"- For the other methods, a verdict that holds reads {runs} of {runs} or 0 of {runs}; anything between means the "
        "verdict changed between runs (other users, splits and seeds), at this N. A run in which the retrain too was told "
        "from its references may be atypical (its data or its reference models) rather than the method: such runs are "
        "named in the headline.",
        ("- Every run trains models of its own seeds." if study.get("run_seeds") == "own" else
         "- The runs of one split shared their models' seeds (this document predates the fix), so two draws of one split "
         "trained nearly the same models: their verdicts and false alarms are not independent trials.")
        + " The core and edge sets' draws re-split one pool (the "
        "most, or least, active users, twice the set's size): their draws differ in which half is forgotten, not in who "
        "is in the pool.",
        *([f"- The test's false alarms on the study's retrain-vs-retrain pairs, by forget set: {by_kind}."]
          if (by_kind := _false_alarms_by_kind(study)) else []),
        "",
    ]
    return lines


def _false_alarms_by_kind(study: dict) -> str:
    """"random 1 of 30, core 1 of 30, edge 3 of 30" over the study's own pairs ("" without its runs)."""
    found: dict[str, list[int]] = {}
    for run in study.get("runs", []):
        values = retrain_pair_p_values([run])
        entry = found.setdefault(run["forget_set"], [0, 0])
        entry[0] += sum(p <= study["alpha"] for p in values)
        entry[1] += len(values)
    return ", ".join(f"{kind} {wrong} of {pairs}" for kind in FORGET_SETS if kind in found for wrong, pairs in [found[kind]])


def p_cell(row: dict) -> str:
    """The permutation test's p in a table cell (:func:`~.verdict.p_value`), "–" with one model a side."""
    p = row.get("epsilon_p_value")
    return "–" if p is None else p_value(p)


def signed(value: float | None) -> str:
    """A difference with its sign (+0.012, −0.004), "–" if there is none."""
    return "–" if value is None else f"{value:+.3f}".replace("-", "−")


def _table(result: dict, kind: str) -> list[str]:
    rows = rows_of(result, kind)
    out = [
        "| method | kind | time | speedup | ε [95 % CI] | p | F | final score | MIA AUC [95 % CI] | NDCG@10 "
        "| NDCG@10 − retrained ALS [95 % CI] | Recall@10 | fairness gap | top-10 overlap | verdict |",
        "|---|---|---:|---:|---|---:|---:|---:|---|---:|---|---:|---:|---:|---|",
    ]
    for key, title, _ in TABLE_BLOCKS:
        block = [r for r in rows.values() if block_of(r) == key]
        if key != "measured" and block:
            out.append(f"| **{title}** |" + " |" * 14)
        for r in block:
            verdict = f"by construction: {by_construction(r)}" if key == "construction" else verdict_text(result, r)
            out.append(
                f"| {r['label']} | {r['family']} | {seconds(r['seconds']) if r['family'] != 'reference' else '–'} | {speedup(r['speedup'])} "
                f"| {fmt(r['epsilon'], 2)}{interval(r['epsilon_ci'], 2)} | {p_cell(r)} | {fmt(r['forgetting_quality'], 3)} "
                f"| {fmt(r['final_score'], 3)} | {fmt(r['mia_auc'], 2)}{interval(r['mia_auc_ci'], 2)} | {fmt(r['ndcg_at_10'], 3)} "
                f"| {signed(r.get('ndcg_gap_to_als'))}{interval(r.get('ndcg_gap_to_als_ci'), 3)} | {fmt(r['recall_at_10'], 3)} "
                f"| {fmt(r['fairness_gap'], 3)} | {fmt(r['top10_overlap_with_retrain'], 2)} | {verdict} |"
            )
    return out


def markdown(result: dict) -> str:
    """``lab.md``: set-up, headline, one table and reading per forget set, targets, parameters."""
    cfg, data, hp = result["config"], result["data"], result["hyper_parameters"]
    kinds = [k for k in FORGET_SETS if k in result["null_control"]]
    machine = result["machine"]
    load_before, load_after = machine["load_average_before"][0], machine["load_average_after"][0]
    shared = load_before >= 1.0 or load_after >= 2.0  # the run itself adds about 1 to the load
    cap = result["rows"][0]["epsilon_max"] if result["rows"] else None
    lines = [
        "# Unlearning lab: exact forgetting beside approximate unlearning",
        "",
        f"Generated by `python -m amnesia lab{' --quick' if cfg['quick'] else ''}` on {data['name']} ({data['users']:,} users, "
        f"{data['items']:,} items, {data['interactions']:,} interactions): forget sets {', '.join(kinds)}, {cfg['share']:.0%} of the "
        f"users each, N = {cfg['seeds']} models per side, in {result['seconds_total'] / 60:.1f} min on {machine['cpus']} cores "
        f"(load average {load_before} before, {load_after} after{'; the machine was shared with other work, so times are noisy' if shared else ''}).",
        "",
        "A model-based recommender (weighted ALS matrix factorisation) is trained, then asked to forget a set of users by each "
        "method. An attacker who holds the item factors folds each forgotten user's history into them and looks at how well it "
        "fits. For every forgotten user, N unlearned models are compared with N models retrained without them; from the best "
        "threshold or interval rule's false-positive and false-negative rates, measured on models it was not chosen on, "
        "comes ε, a cross-fitted variant of the NeurIPS 2023 unlearning challenge's estimator (with a continuity correction, "
        f"at N = {cfg['seeds']}): its values are not on the challenge's scale, so compare them with this page's null control, "
        "not with the challenge's leaderboard. "
        f"ε is capped at {fmt(cap, 0)}, the most the challenge's own estimator resolves with N = {cfg['seeds']} models per "
        "side (⌈ln(N − 1)⌉), a convention here: pooling its held-out trials, this variant could reach about 5. The **null control** is retrain versus "
        "retrain with other seeds. A method is said to *forget* when a stated test cannot tell its models from retrained ones: "
        f"a permutation test of whole models at level {ALPHA} (p > {ALPHA}: forgets; p ≤ {ALPHA}: does not), whose false-positive "
        "rate is measured on retrain-vs-retrain splits below. Definitions are at the end.",
        "",
        "## Headline",
        "",
        *(f"- {line}" for line in summary(result)),
        "",
        *headline(result),
        "",
        *questions(result),
        "",
    ]
    for kind in kinds:
        info = result["forget_sets"][kind]
        null = result["null_control"][kind]
        lines += [
            f"## Forget set: {kind} ({info['description']})",
            "",
            f"{count(info['forget_users'], 'user')} forgotten ({info['forget_interactions']:,} training interactions, "
            f"{info['mean_history_forgotten']} per user); {info['outsiders']} never-seen users for the membership attack; "
            f"{info['training_users']} users in training.",
            "",
            f"**Null control** (retrain vs retrain, other seeds): ε = {fmt(null['epsilon'], 2)}{interval(null['epsilon_ci'], 2)} "
            f"({p_text(null)}), "
            f"F = {fmt(null['forgetting_quality'], 3)}{interval(null['forgetting_quality_ci'], 3)}, "
            f"MIA AUC = {fmt(null['mia_auc'], 2)}{interval(null['mia_auc_ci'], 2)}, "
            f"NDCG@10 = {fmt(null['ndcg_at_10'], 3)}{interval(null['ndcg_at_10_ci'], 3)}, "
            f"top-10 overlap = {fmt(null['top10_overlap_with_retrain'], 2)}{interval(null['top10_overlap_ci'], 2)}.",
            "",
            *_table(result, kind),
            "",
            *(f"- {line}" for line in reading(result, kind)),
            "",
        ]
        for name, method in METHODS.items():
            cert = rows_of(result, kind).get(name, {}).get("certificate") if method.own_retrain else None
            if cert:
                p_diff = f"; P within {cert['p_max_rel_diff']:.1e} of the retrain's" if "p_max_rel_diff" in cert else ""
                lines += [
                    f"{method.model_title} certificate: fingerprint after forgetting "
                    f"`{cert['fingerprint_unlearned'][:16]}…`, after retraining `{cert['fingerprint_retrained'][:16]}…`: "
                    f"{'equal' if cert['fingerprint_unlearned'] == cert['fingerprint_retrained'] else 'DIFFERENT'}{p_diff}.",
                    "",
                ]
    lines += agreement_section(result)
    lines += _targets(result)
    als, mp = hp["als"], hp["methods"]
    lines += [
        "## Hyper-parameters (fixed; chosen on validation data)",
        "",
        f"- Weighted ALS (`implicit` {_implicit_version()}, CPU, conjugate gradient): {als['factors']} factors, λ = {als['regularization']}, "
        f"α = {als['alpha']} (observed entries weigh α, the others 1), {als['iterations']} sweeps.",
        f"- Fine-tune: {mp['finetune_sweeps']} warm-started ALS sweeps on the retained data.",
        f"- Unlearn-ALS: warm-started ALS sweeps until a sweep moves the item factors by less than "
        f"{mp['unlearn_tolerance']:g} (relative), at most the training's own {result['hyper_parameters']['als']['iterations']}.",
        f"- NegGrad: {mp['neggrad_steps']} steps, rate {mp['neggrad_rate']} (diagonal-Newton scaled), forget weight {mp['neggrad_forget_weight']}.",
        f"- Fisher forgetting: α = {mp['fisher_alpha']} (noise std α·F^(-1/4) per parameter).",
        f"- SISA: {mp['shards']} user shards (a design choice, not tuned).",
        *_exact_model_parameters(hp),
        "",
        "How they were chosen: `python -m amnesia.lab.tune` (report in `docs/lab_tuning.md`). It never sees a test item: it "
        "splits the training part of every user again into fitting and validation items and draws a separate validation forget "
        "set. ALS: the best NDCG@10 on validation items over a grid of factors × λ × α. Approximate methods: the best final "
        "score against retrained models on the validation forget set (N = 8), ties broken by the attack statistic's distance "
        "from the retrained models. What the chosen settings cost per request, measured in this run against a retrain "
        f"({kinds[0]} set): " + _approximate_costs(result, kinds[0]) + ".",
        "",
        "## Definitions",
        "",
        "- **Data**: each user's interactions split 80/20 (seeded) into training and test items. Forget sets as in CURE4Rec: "
        "*random* users, *core* (most active) and *edge* (least active). Twice the forget set's size is drawn from that stratum; a "
        "seeded half is forgotten, the other half are *outsiders* no model ever trains on (the membership attack's non-members).",
        "- **Attack statistic**: for matrix factorisation, the relative loss of folding the user's training items into the item "
        "factors (an ALS user step; 0 = explained perfectly, 1 = not at all); for SISA its mean over shards; for the models of "
        "item pairs minus the mean weight among the user's own items (item-CF: Jaccard S; item-kNN: the S in the neighbour "
        "lists, 0 outside them; EASE: B).",
        "- **ε** per forgotten user: an attacker picks the threshold or interval rule on the statistic that best separates "
        "unlearned from retrained models (largest TPR − FPR) on half of the models; its false-positive and false-negative "
        "rates are counted on the other half (both ways, five random splits, pooled); ε = max(log((1 − δ − FPR)/FNR), "
        "log((1 − δ − FNR)/FPR)), δ = 10⁻⁵, clamped at 0. Both rates 0 gives ∞; if exactly one is 0 it counts half an "
        "error (a continuity correction: one error-free side is strong evidence, not none). Statistics are compared at a "
        "resolution of 10⁻⁶, and a side 100× narrower than the other counts as separable (as in the challenge). Reported: "
        "the mean over users of min(ε, cap) with its interval, and the share of users at the cap.",
        "- **Verdict (p)**: H0 says the N unlearned and N retrained models are exchangeable. The mean capped ε of the real "
        "labelling is compared with that of relabellings of the 2N models (whole models: one relabelling for every user; "
        "all of them when there are few, else 499 at random); p = (1 + relabellings at least as high) ÷ (1 + relabellings). "
        f"p ≤ {ALPHA} reads *does not forget*, for every measured row. When that row is a method exact by construction "
        "(SISA: the shards that held no forgotten user never saw them, the rest are retrained without them), it also says "
        "that the rejection is either one of the false alarms a test at this level raises 1 time in 20 or a flaw in the "
        "implementation, which one run cannot tell apart. Its false-positive rate: the same test on random N + N splits of the 2N "
        "retrained models (the Retrain row's and the references), reported under each forget set. A deterministic method "
        "(one model a side) gets no test: it is identical to its retrain or not.",
        "- **Why cross-fitted**: the challenge takes the best rule measured on the very models it was chosen on. With few "
        "models that maximum is biased: two identical distributions with 512 models each come out at ε ≈ 2.5 "
        "(`tests/test_lab_metrics.py` shows it). Choosing on one half and scoring on the other brings identical "
        "distributions to ε ≈ 0 while separated ones stay large.",
        "- **Forgetting quality F**: each user scores 2/2^b, b = ⌊ε/0.5⌋ + 1 (1 for ε < 0.5, ½ for ε < 1, …; 0 at the cap); F is the "
        "mean. **Final score** = F × (NDCG@10 on retained training items, unlearned ÷ retrained) × (NDCG@10 on test items, "
        "unlearned ÷ retrained), each against the same model retrained without the forgotten users (the method's "
        "reference, not the ALS retrain of the NDCG difference column). **Speedup**: that retrain's time ÷ the method's.",
        "- **MIA AUC**: forgotten users against outsiders, the attack statistic as score (0.5 = indistinguishable), averaged "
        "over the N models; interval by resampling the models, then both groups.",
        "- **Utility**: NDCG@10 and Recall@10 (hits ÷ min(|test items|, 10)) on the retained users' test items, training "
        "items excluded from the ranking. **Fairness gap** (CURE4Rec, after Li et al. 2021): NDCG@10 of the 5 % most active "
        "retained users minus that of the rest. **Top-10 overlap**: shared items between a model's and a reference retrain's "
        "top-10 lists (model i against reference i).",
        "- **Time**: wall time of the unlearning call (mean over seeds); speedup = the reference's retrain time ÷ that time. "
        "SISA's reference is SISA retrained from scratch (all shards), item-CF's an item-CF retrain; item-CF is deterministic, "
        "so one model per side stands for all N. Item-CF's utility and agreement come from the unlearned model alone when "
        "the fingerprints are equal (equal H, n and C give equal scores).",
        f"- **Intervals**: 95 % percentile bootstrap over models, then users: each draw takes the N models with "
        "replacement, then the users (ε, F, NDCG, Recall, top-10 overlap, AUC, fairness gap), so model-to-model variance is in the interval; "
        f"{cfg['resamples']} draws ({cfg.get('epsilon_resamples', 200)} for ε and F, each a full attack, with the copies of a model kept on "
        "one side of the attack's split). **NDCG@10 − retrained ALS**: the row's mean NDCG@10 minus the N retrained "
        "factorisations' (the references; for the exact models and SISA too, whose own references are other models), the "
        "same users drawn for both (paired), each side's models drawn on their own. The fairness gap: models, then users within each group.",
        "",
        "## Caveats",
        "",
        f"- N = {cfg['seeds']} models per side cannot resolve ε above {fmt(cap, 0)}, and with few models even retrain-vs-retrain "
        "shows an ε above 0 by chance. That is why the null control, not 0, is the yardstick; quick runs with 3 or 4 seeds "
        "are demonstrations, not evidence.",
        "- The attack uses the item factors directly (white box). A weaker attacker who only sees recommendations would "
        "see less; a stronger one (several statistics, shadow models) could see more.",
        "- SISA here has shards but no slices (ALS has no incremental training to checkpoint); with a forget set spread "
        "over all users nearly every shard holds a forgotten user, so its batch forget costs about a full SISA retrain.",
        "",
    ]
    return "\n".join(lines)


def _targets(result: dict) -> list[str]:
    measured = dict(result.get("targets", {}))
    if not result["config"]["quick"] and len(result["config"]["forget_sets"]) == 3 and result["config"]["seeds"] >= 16:
        measured["full_run_seconds"] = result["seconds_total"]
    if not measured:
        return []
    lines = ["## Performance targets (2-core machine)", "", "| target | limit | measured | |", "|---|---:|---:|---|"]
    for key, text, limit in TARGETS:
        if key in measured:
            value = measured[key]
            text = text.format(page_quick_seeds=measured.get("page_quick_seeds", 3))  # 3 before the seeds were recorded
            lines.append(f"| {text} | {limit:.0f} s | {value:.1f} s | {'met' if value <= limit else '**not met**'} |")
    found = false_positives(result)
    if found:
        wrong, pairs = found
        rate = wrong / pairs
        calibration = null_calibration(result)
        checked = f" (test of a rate above 5 %: p = {calibration['above']:.2f})" if calibration else ""
        lines.append(f"| the verdict's false-positive rate on {pairs} independent retrain-vs-retrain pairs | 5 % "
                     f"| {100 * rate:.1f} %{checked} | {'met' if rate <= 0.05 else '**not met** as counted'} |")
    return lines + [
        "",
        (f"Timed on {measured['measured']}, after the full run, " if "measured" in measured else "Timed right after the full run ")
        + "on the shared development machine. The page's run uses one thread on purpose: it shares the server with every "
        "visitor.",
        "",
    ]


def _exact_model_parameters(hp: dict) -> list[str]:
    """The exact models' settings (documents written before they were recorded have none)."""
    lines = []
    if "item_knn" in hp:
        knn = hp["item_knn"]
        reading = ("each candidate scored from its own list, counting the user's items in it (Sarwar et al.'s item-based "
                   "model)" if knn["scoring"] == "candidate" else "the lists of the user's items summed (implicit's item-kNN)")
        lines.append(f"- Item-kNN: {knn['similarity'].capitalize()} similarity, K = {knn['neighbours']} neighbours per item, "
                     f"{reading}; chosen on validation items over similarity × K × scoring (`--only item-knn`).")
    if "ease_l2" in hp:
        lines.append(f"- EASE: λ = {hp['ease_l2']:g}, " + (
            "chosen on validation items of the training part over λ (`--only ease`)." if hp.get("ease_l2_chosen_by") == "amnesia.lab.tune"
            else "chosen on validation items by `python -m amnesia bench --part quality` (each user's second-latest item: "
                 "for about a fifth of the users a test item of this lab's split)."))
    return lines


def _implicit_version() -> str:
    try:
        import implicit

        return implicit.__version__
    except ImportError:  # pragma: no cover - implicit is a pinned dependency
        return "?"
