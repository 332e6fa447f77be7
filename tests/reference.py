"""A plain, obviously-correct reference model: sets and dicts, recomputed from scratch."""

from __future__ import annotations

import math
from collections import defaultdict
from itertools import combinations


class ReferenceCF:
    """Item-based CF recomputed from the interaction set on every read."""

    def __init__(self, interactions=(), similarity="jaccard"):
        self.pairs: set[tuple[int, int]] = set(map(tuple, interactions))
        self.measure = similarity

    def users(self):
        return sorted({u for u, _ in self.pairs})

    def items(self):
        return sorted({i for _, i in self.pairs})

    def history(self, user):
        return sorted(i for u, i in self.pairs if u == user)

    def counts(self):
        n = defaultdict(int)
        for _, i in self.pairs:
            n[i] += 1
        return dict(n)

    def cooccurrences(self):
        """{(a, b): C_ab} for a > b, non-zero only."""
        rows = defaultdict(set)
        for u, i in self.pairs:
            rows[u].add(i)
        c = defaultdict(int)
        for items in rows.values():
            for a, b in combinations(sorted(items), 2):
                c[(b, a)] += 1
        return dict(c)

    def fingerprint(self):
        """The engine's certificate written from its definition (``ItemCF.fingerprint``'s docstring),
        with plain Python: H as sorted (user, item) int64 pairs, n as (item, count) int64 pairs of the
        watched items, C as the strictly lower triangle over those items in id order, row by row,
        zeros included, as uint32, each row entering as its SHA-256 digest. A fingerprint that skipped or misread any part would differ."""
        import hashlib
        import struct

        digest = hashlib.sha256(b"amnesia-itemcf-v3")
        digest.update(b"S" + self.measure.encode())
        digest.update(b"H" + b"".join(struct.pack("<qq", u, i) for u, i in sorted(self.pairs)))
        counts = self.counts()
        live = sorted(counts)
        digest.update(b"n" + b"".join(struct.pack("<qq", i, counts[i]) for i in live))
        cooc = self.cooccurrences()
        rows = (b"".join(struct.pack("<I", cooc.get((a, b), 0)) for b in live[:k]) for k, a in enumerate(live))
        digest.update(b"C" + b"".join(hashlib.sha256(row).digest() for row in rows))
        return digest.hexdigest()

    def similarities(self):
        n, c = self.counts(), self.cooccurrences()
        if self.measure == "cosine":
            return {(a, b): v / math.sqrt(n[a] * n[b]) for (a, b), v in c.items()}
        return {(a, b): v / (n[a] + n[b] - v) for (a, b), v in c.items()}

    def similarity(self, a, b):
        if a == b:
            return 1.0 if a in self.counts() else 0.0
        return self.similarities().get((max(a, b), min(a, b)), 0.0)

    def neighbour_lists(self, neighbours):
        """{item: [(other, S), ...]}: each item's ``neighbours`` most similar other items with
        S > 0, best first, ties to the smaller id (item-kNN as defined, sorted from scratch)."""
        s, items = self.similarities(), self.items()
        lists = {}
        for a in items:
            row = [(b, s[(max(a, b), min(a, b))]) for b in items if b != a and (max(a, b), min(a, b)) in s]
            lists[a] = sorted(row, key=lambda pair: (-pair[1], pair[0]))[:neighbours]
        return lists

    def recommend(self, user, k=10, neighbours=None, scoring="history"):
        """Top-k unseen items by Σ over the user's items (in id order) of S; with ``neighbours``,
        only the S of items in the neighbour lists of the user's items, or with ``scoring="candidate"``
        only the S of the user's items in the candidate's own list (in list order)."""
        seen = self.history(user)
        s = self.similarities()
        ordered = None if neighbours is None else self.neighbour_lists(neighbours)
        lists = None if neighbours is None else {a: dict(row) for a, row in ordered.items()}
        scores = defaultdict(float)
        for j in self.items():
            if j in seen:
                continue
            total = 0.0
            if lists is not None and scoring == "candidate":
                total = sum((v for i, v in ordered[j] if i in seen), 0.0)
            for i in seen if lists is None or scoring == "history" else ():
                if lists is None:
                    total += s.get((max(i, j), min(i, j)), 0.0)
                elif j in lists[i]:
                    total += lists[i][j]
            if total > 0:
                scores[j] = total
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
