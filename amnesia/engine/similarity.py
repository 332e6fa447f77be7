"""Similarity measures, by name: S_ab = f(C_ab, n_a, n_b).

Every measure is a function of a co-occurrence count and the two item counts only, so that
S stays a *view* of C and n: the engine never stores S, it computes the entries asked for.
Adding a measure means adding one :class:`Measure` to :data:`MEASURES` (and a test).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ArgumentError


@dataclass(frozen=True)
class Measure:
    """A similarity measure: ``measure(cooc, count_a, count_b)`` -> float64 array (broadcasting).

    ``name`` is the identifier used everywhere (API, CLI, fingerprint), ``label`` the name for
    people, ``formula`` a LaTeX formula and ``text`` a plain-text one.
    """

    name: str
    label: str
    formula: str
    text: str
    denominator: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

    def __call__(self, cooc: np.ndarray | float, count_a: np.ndarray | float, count_b: np.ndarray | float) -> np.ndarray:
        """S elementwise; exactly 0 where C is 0 (so an item whose count dropped to 0 is never a division by zero)."""
        cooc = np.asarray(cooc, dtype=np.float64)
        denominator = self.denominator(cooc, np.asarray(count_a, dtype=np.float64), np.asarray(count_b, dtype=np.float64))
        result = np.zeros(np.broadcast_shapes(cooc.shape, denominator.shape), dtype=np.float64)
        np.divide(cooc, denominator, out=result, where=cooc > 0)
        return result


JACCARD = Measure(
    name="jaccard",
    label="Jaccard",
    formula=r"S_{ab} = \frac{C_{ab}}{n_a + n_b - C_{ab}}",
    text="S_ab = C_ab / (n_a + n_b − C_ab)",
    denominator=lambda cooc, count_a, count_b: count_a + count_b - cooc,
)
COSINE = Measure(
    name="cosine",
    label="Cosine",
    formula=r"S_{ab} = \frac{C_{ab}}{\sqrt{n_a\, n_b}}",
    text="S_ab = C_ab / √(n_a · n_b)",
    denominator=lambda cooc, count_a, count_b: np.sqrt(count_a * count_b),
)

#: Every measure by name; the first is the default.
MEASURES: dict[str, Measure] = {measure.name: measure for measure in (JACCARD, COSINE)}
DEFAULT = JACCARD


def measure(name: str | Measure) -> Measure:
    """The measure called ``name`` (case-insensitive), or an ArgumentError listing the choices."""
    if isinstance(name, Measure):
        return name
    found = MEASURES.get(str(name).strip().lower())
    if found is None:
        raise ArgumentError(f"Unknown similarity {name!r}; choose one of {', '.join(MEASURES)}.")
    return found
