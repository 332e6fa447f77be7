"""Windows of interest: the small part of H, n, C and S that a person can look at.

A full MovieLens C has 94 million cells; a chart can show about 40 x 40. A :class:`Window`
holds dense copies of H (users x items), n, C and S for chosen users and items, with their
labels. :func:`choose_window` picks the items a change touched plus their strongest
neighbours, and the affected users plus the users who share most of those items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..data.catalog import Catalog
from ..engine.changes import PairChanges
from ..engine.model import ItemCF

MAX_ITEMS = 40
MAX_USERS = 12
LABEL_CHARS = 22


@dataclass(frozen=True)
class Window:
    """Dense state for ``users`` x ``items``: H (u, k) uint8, n (k,), C (k, k), S (k, k)."""

    users: tuple[int, ...]
    items: tuple[int, ...]
    user_labels: tuple[str, ...]
    item_labels: tuple[str, ...]
    history: np.ndarray
    counts: np.ndarray
    cooccurrences: np.ndarray
    similarities: np.ndarray
    description: str = ""


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def item_labels(catalog: Catalog, items: Sequence[int]) -> list[str]:
    """Short, unique axis labels (Plotly merges equal category labels, so duplicates get ids)."""
    labels = [_short(catalog.title(item)) for item in items]
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    return [f"{label} #{item}" if seen[label] > 1 else label for label, item in zip(labels, items)]


def snapshot(model: ItemCF, catalog: Catalog, users: Sequence[int], items: Sequence[int], description: str = "") -> Window:
    """Copy the window ``users`` x ``items`` out of ``model`` (labels from ``catalog``)."""
    users, items = tuple(int(u) for u in users), tuple(int(i) for i in items)
    return Window(
        users=users,
        items=items,
        user_labels=tuple(catalog.user_name(u) for u in users),
        item_labels=tuple(item_labels(catalog, items)),
        history=model.history_matrix(users, items),
        counts=model.counts(items),
        cooccurrences=model.cooccurrences(items),
        similarities=model.similarities(items),
        description=description,
    )


def choose_window(
    model: ItemCF,
    catalog: Catalog,
    focus_users: Sequence[int] = (),
    focus_items: Sequence[int] = (),
    max_items: int = MAX_ITEMS,
    max_users: int = MAX_USERS,
) -> tuple[list[int], list[int], str]:
    """Users and items worth showing for a change to ``focus_users`` / ``focus_items``.

    Small worlds are shown whole. Otherwise: the focus items (the most popular ones if there
    are too many), then their strongest neighbours by summed similarity; the focus users,
    then the users who interacted with most of the chosen items. Returns (users, items,
    a sentence saying what the window is).
    """
    all_users = model.users()
    all_items = sorted(set(model.items()) | ({m.id for m in catalog.movies()} if len(catalog) <= max_items else set()))
    if len(all_items) <= max_items and len(set(all_users) | set(focus_users)) <= max_users:
        users = sorted(set(all_users) | set(focus_users))
        return users, all_items, "The whole world: every user and every movie."

    focus_items = list(dict.fromkeys(int(i) for i in focus_items))
    touched = np.array(focus_items, dtype=np.int64)
    if len(focus_items) > max_items // 2:
        counts = model.counts(focus_items)
        order = np.lexsort((focus_items, -counts))
        focus_items = [focus_items[i] for i in order[: max_items // 2]]
    items = list(focus_items)
    if focus_items:
        ids, rows = model.similarity_rows(focus_items)
        strength = rows.sum(axis=0)
        strength[np.isin(ids, touched)] = 0  # neighbours are context: movies the change did not touch
        for position in np.lexsort((ids, -strength)):
            if len(items) >= max_items or strength[position] <= 0:
                break
            items.append(int(ids[position]))
    if len(items) < min(max_items, 10):  # nothing touched yet: the most popular items
        popular = model.items()
        counts = model.counts(popular)
        for position in np.lexsort((popular, -counts)):
            if len(items) >= max_items:
                break
            if popular[position] not in items:
                items.append(popular[position])

    users = list(dict.fromkeys(int(u) for u in focus_users))[:max_users]
    chosen = set(items)
    overlap = sorted(
        ((len(chosen.intersection(model.history(u))), u) for u in all_users if u not in users),
        key=lambda pair: (-pair[0], pair[1]),
    )
    users += [u for score, u in overlap[: max_users - len(users)] if score > 0]
    description = (
        f"A focus window of {len(items)} of {len(model.items()):,} movies and {len(users)} of {len(all_users):,} users: "
        f"{'the movies this change touched' if focus_items else 'the most popular movies'}"
        f"{' (the most popular ' + str(len(focus_items)) + ')' if len(focus_items) == max_items // 2 else ''}, "
        f"their most similar movies that the change did not touch, and the users who watched most of them."
    )
    return users, items, description


def window_pair_changes(items: Sequence[int], before: np.ndarray, after: np.ndarray) -> PairChanges:
    """The entries with item_a > item_b whose value differs between two (k, k) window matrices."""
    ids = np.asarray(items, dtype=np.int64)
    rows, cols = np.nonzero((before != after) & (ids[:, None] > ids[None, :]))
    order = np.lexsort((ids[cols], ids[rows]))
    rows, cols = rows[order], cols[order]
    return PairChanges(ids[rows], ids[cols], before[rows, cols], after[rows, cols])


def window_csv(window: Window) -> str:
    """C and S of a window as CSV rows ``item_a,item_b,title_a,title_b,cooccurrences,similarity``
    for every pair with item_a > item_b (zeros included, so the file shows the whole window)."""
    ids = np.asarray(window.items)
    lines = ["item_a,item_b,title_a,title_b,cooccurrences,similarity"]
    for a in range(len(ids)):
        for b in range(len(ids)):
            if ids[a] > ids[b]:
                title_a, title_b = (window.item_labels[k].replace('"', "'") for k in (a, b))
                lines.append(
                    f'{ids[a]},{ids[b]},"{title_a}","{title_b}",{window.cooccurrences[a, b]},{float(window.similarities[a, b])!r}'
                )
    return "\n".join(lines) + "\n"
