"""What a model is made of, checked once: its similarity measure, its store layout and the
limits its requests are held to.

Entry points (the stream command, the dashboard's shared models, Verify's retrain) build a
:class:`ModelConfig` from what people typed or picked and get their models from it, instead of
passing loose strings along; a bad value is refused here, before any data is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import AmnesiaError
from ..limits import CLI_LIMITS, Limits
from .model import ItemCF
from .neighbours import check_neighbours
from .sharded import check_placement, check_sharded_layout
from .similarity import DEFAULT, Measure, measure
from .store import LAYOUTS


@dataclass(frozen=True)
class ModelConfig:
    """``similarity``: a name of :data:`~amnesia.engine.similarity.MEASURES` (any case);
    ``layout``: one of :data:`~amnesia.engine.store.LAYOUTS` or the number of most popular
    items kept in a dense block; ``limits``: what one request may touch (``CLI_LIMITS`` by
    default, ``APP_LIMITS`` for the public demo); ``neighbours``: the K most similar items kept
    per item (item-kNN), or None for every neighbour; ``backend``, ``shards``, ``address``: where C's
    rows live and ``pipeline`` how many changes may be in flight to them (see ``ItemCF.fit``; the defaults
    keep one store in this process). Raises
    :class:`AmnesiaError` on a bad value."""

    similarity: str = DEFAULT.name
    layout: str | int = "auto"
    limits: Limits = field(default=CLI_LIMITS)
    neighbours: int | None = None
    backend: str = "memory"
    shards: int | None = None
    address: str | None = None
    pipeline: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "similarity", measure(self.similarity).name)  # refuses unknown names
        if isinstance(self.layout, bool) or not (
            self.layout in LAYOUTS or (isinstance(self.layout, int) and self.layout >= 0)
        ):
            raise AmnesiaError(
                f"Unknown store layout {self.layout!r}; choose one of {', '.join(LAYOUTS)}, or the number of items "
                f"to keep in a dense block (0 or more)."
            )
        object.__setattr__(self, "neighbours", check_neighbours(self.neighbours))
        # before any data is read or any shard started
        if check_placement(self.backend, self.shards, self.address, self.pipeline) is not None:
            check_sharded_layout(self.layout)
        if not isinstance(self.limits, Limits):
            raise AmnesiaError(f"limits must be an amnesia.Limits (APP_LIMITS, CLI_LIMITS or a replace() of them), "
                               f"got {type(self.limits).__name__}.")

    @classmethod
    def of(cls, model: ItemCF, limits: Limits = CLI_LIMITS) -> ModelConfig:
        """The configuration ``model`` was made with (its measure and its store's layout)."""
        return cls(model.measure.name, model.store_kind, limits, model.neighbours)

    @property
    def measure(self) -> Measure:
        return measure(self.similarity)

    @property
    def placed(self) -> bool:
        """Whether C's rows are split over shards (``shards`` given, or the Ray backend)."""
        return self.shards is not None or self.backend != "memory"  # what check_placement places (checked above)

    def fit(self, interactions: Any) -> ItemCF:
        """``ItemCF.fit`` on ``interactions`` with this measure, layout, neighbours and placement."""
        return ItemCF.fit(interactions, self.measure, store=self.layout, neighbours=self.neighbours,
                          backend=self.backend, shards=self.shards, address=self.address, pipeline=self.pipeline)

    def empty(self) -> ItemCF:
        """A model with no data yet, with this measure (it grows row by row: sparse), on its shards if placed."""
        if self.placed:
            return self.fit([])
        return ItemCF(self.measure, self.neighbours)
