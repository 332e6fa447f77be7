"""How a lab row's verdict reads: rows equal to a retrain by construction, and a measured exact
method told apart from its retrains (a false alarm or a flaw: the run cannot say which). One place, for the report's
table and reading and the page's chart (whose hover still said "does not forget" beside a table
that said it forgets)."""

from __future__ import annotations


#: The verdict's level: a method "does not forget" when the permutation test rejects at ALPHA that
#: its models are exchangeable with retrains (evaluate.summarize's epsilon_p_value).
ALPHA = 0.05


def _unreachable(floor: float | None) -> bool:
    """Whether a test that gives models told apart completely ``floor`` (metrics.smallest_p_value)
    cannot reject at :data:`ALPHA` for them (too few models a side: 3 + 3 give them 0.1)."""
    return floor is not None and floor > ALPHA


def undecided(row: dict) -> bool:
    """Whether a lab row's permutation test could not reject even for models told apart completely
    (its ``epsilon_p_floor``, their p, is above :data:`ALPHA`), so its verdict is "cannot tell"; rows
    written before the floor was kept have none and are decided."""
    return _unreachable(row.get("epsilon_p_floor"))


def tested(p: float, floor: float | None = None) -> tuple[bool, str]:
    """The permutation test's verdict on a measured row: (forgets, its words). ``floor``: the p
    the test gives models told apart completely (evaluate.summarize's epsilon_p_floor); above the
    level, the row is not said to forget (False) and its words say the test cannot tell, whatever
    its own p (which is not read: 0.05 at 3 + 3 models is an ε ranked first by chance, below
    the clearest evidence's 0.1)."""
    if _unreachable(floor):
        return False, (f"cannot tell: with this few models the permutation test cannot reject even for models told "
                       f"apart completely (their p is {p_value(floor)}, above {ALPHA}; here p = {p_value(p)}, not read)")
    if p > ALPHA:
        return True, f"forgets: not told apart from retrains (permutation test p = {p_value(p)} > {ALPHA})"
    return False, f"does not forget: told apart from retrains (p = {p_value(p)} ≤ {ALPHA})"


def p_value(p: float) -> str:
    """A permutation test's p, three decimals everywhere ("0.400" beside "0.426": a presenter read
    "0.4" and "0.43" as different precisions); "< 0.001" below what three decimals show."""
    return "< 0.001" if p < 0.0005 else f"{p:.3f}"


def by_construction(row: dict) -> str | None:
    """Why a row's ε equals the null control's by construction rather than by measurement, or None.

    Such rows cannot fail the criterion, so the table shows them apart: the Retrain row is the
    null control itself; a certified exact model is compared with its own retrain, which equals it;
    SISA with every shard hit retrained everything, so it is a SISA retrain with other seeds."""
    if row["method"] == "retrain":
        return "it is the null control: retrain against retrain with other seeds"
    if row.get("certificate", {}).get("equal"):
        return "certified equal to its own retrain, and measured against that retrain"
    if row["method"] == "sisa" and row.get("shards") and row.get("affected_shards") == row["shards"]:
        return f"every one of its {row['shards']} shards held a forgotten user: a SISA retrain with other seeds"
    return None


#: Why a measured exact method equals its reference in distribution.
_EXACT_WHY = {"sisa": "its shards that held no forgotten user never saw them and the rest were retrained without them, "
                      "as in its reference, SISA retrained from scratch"}


def exact_told_apart(row: dict) -> str | None:
    """Why a row that the test told apart from its retrains should equal them by construction, or
    None: a measured exact method (SISA with shards left untouched) is drawn from its reference's
    distribution if it is built as described, so its rejection is either one of the false alarms a
    test at the 5 % level raises 1 time in 20 or a flaw in its implementation. The run cannot tell
    which, so the row keeps its measured verdict and says both. (It had been read as a false alarm
    whenever its ε lay within the null control's interval: a reviewer showed that interval is too
    wide to refuse anything near p = 0.05.)"""
    if (row["family"] != "exact" or row["forgets"] or row.get("epsilon_p_value") is None or by_construction(row)
            or undecided(row)):  # not rejected at all
        return None
    return _EXACT_WHY.get(row["method"], "it is exact by construction")


def verdict_text(result: dict, row: dict) -> str:
    """A measured row's verdict as the table, the reading and the chart's hover give it: the run's
    verdict, and for an exact method told apart (:func:`exact_told_apart`) what that can mean."""
    if exact_told_apart(row):
        return (f"does not forget as measured: told apart from its retrains (p = {p_value(row['epsilon_p_value'])} ≤ "
                f"{ALPHA}), although exact by construction: a false alarm (1 in 20 at this level) or a flaw in it, "
                "which this run cannot tell apart")
    if row.get("epsilon_p_value") is not None and row.get("family") != "reference":
        return tested(row["epsilon_p_value"], row.get("epsilon_p_floor"))[1]  # the words of today's p format (results written before keep theirs)
    return row["verdict"]
