"""The lab's methods, named once: what each is, how it is drawn, what it is compared with,
and (for the approximate ones) how it forgets, which settings it takes and how they are tuned.

The lab run, its report, its figures, the tuning command and the Lab page iterate
:data:`METHODS`; nothing else lists method names. Adding an approximate method is one
function in :mod:`amnesia.lab.methods` and one :class:`Method` here; the shared contract test
(``tests/test_lab_methods.py``) then checks it like every other.

Families: ``"reference"`` (the untouched model, to show what the attack can see),
``"exact"`` (the model equals one trained without the forgotten users) and
``"approximate"`` (cheaper, and measured for how close it comes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import methods as M
from .mf import MF

FAMILIES = ("reference", "exact", "approximate")


@dataclass(frozen=True)
class Method:
    """One method of the lab.

    - ``name``: its key in ``lab.json`` rows; ``label``: how people read it; ``description``:
      one line on what it does; ``marker``: its Plotly marker symbol in the lab's figures.
    - ``model``: the recommender it forgets with (``"weighted ALS"`` or ``"item-based CF"``).
    - ``compared_with``: the retrained model its ε, F and top-10 agreement are measured against.
    - ``own_retrain``: for an exact method with a model of its own, what "retraining it" means
      (its speed-up is against that retrain, not the table's Retrain row); None otherwise.
    - ``full_only``: left out of quick runs (EASE's dense P over every item takes gigabytes while it
      is fitted: too much for a visitor's run on the server).
    - Approximate methods only: ``forget(original, train, forget, seed, **options) -> MF``;
      ``options`` maps each option to the :class:`~amnesia.lab.methods.MethodParams` field that
      holds its chosen value; ``grid`` the values the tuning command tries; ``threaded``: the
      forget takes ``threads`` (implicit's ALS thread count).
    """

    name: str
    label: str
    family: str
    description: str
    marker: str
    model: str = "weighted ALS"
    compared_with: str = "weighted ALS retrained from scratch"
    own_retrain: str | None = None
    forget: Callable[..., MF] | None = None
    options: tuple[tuple[str, str], ...] = ()
    grid: tuple[tuple[str, tuple], ...] = ()
    threaded: bool = False
    full_only: bool = False

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"Method {self.name!r}: family must be one of {FAMILIES}, got {self.family!r}.")
        if (self.family == "approximate") != (self.forget is not None):
            raise ValueError(f"Method {self.name!r}: approximate methods, and only they, need a forget function.")

    def kwargs(self, params: M.MethodParams, threads: int = 1) -> dict:
        """The keyword arguments of :attr:`forget` with ``params``' chosen values."""
        chosen = {option: getattr(params, field) for option, field in self.options}
        return {**chosen, "threads": threads} if self.threaded else chosen

    @property
    def model_title(self) -> str:
        """The model's name at the start of a sentence ("Item-based CF", "EASE")."""
        return self.model[:1].upper() + self.model[1:]

    @property
    def tuned(self) -> bool:
        """Whether the tuning command chooses its settings (it has a grid)."""
        return bool(self.grid)


METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method("original", "No unlearning (original)", "reference",
               "the trained factorisation, nothing forgotten: how much the attack can see", "x"),
        Method("retrain", "Retrain", "exact",
               "weighted ALS from scratch without the forget set (the null control)", "circle"),
        Method("sisa", "SISA", "exact",
               "user shards, one ALS per shard; retrain only the shards that held a forgotten user", "square",
               compared_with="SISA retrained from scratch"),
        Method("fine-tune", "Fine-tune", "approximate", "a few warm-started ALS sweeps on the retained data",
               "diamond", forget=M.fine_tune, options=(("sweeps", "finetune_sweeps"),),
               grid=(("sweeps", (1, 2, 3, 5)),), threaded=True),
        Method("unlearn-als", "Unlearn-ALS", "approximate",
               "ALS from the trained factors on the retained data until the item factors settle (Xu et al. 2023: "
               "said to be consistent with retraining)", "pentagon", forget=M.unlearn_als,
               options=(("tolerance", "unlearn_tolerance"),), threaded=True),
        Method("neggrad", "NegGrad", "approximate",
               "gradient ascent on the forgotten interactions, descent on the retained ones", "triangle-up",
               forget=M.neggrad,
               options=(("steps", "neggrad_steps"), ("rate", "neggrad_rate"), ("forget_weight", "neggrad_forget_weight")),
               grid=(("steps", (3, 10)), ("rate", (0.1, 0.3, 1.0)), ("forget_weight", (0.1, 0.3, 1.0)))),
        Method("fisher", "Fisher forgetting", "approximate",
               "Gaussian noise with std α·F^(-1/4), F the retained data's diagonal Fisher", "star",
               forget=M.fisher_forget, options=(("alpha", "fisher_alpha"),),
               grid=(("alpha", (0.01, 0.03, 0.05, 0.1, 0.15, 0.2, 0.3)),)),
        Method("drop-vector", "Drop the vectors", "approximate", "delete the forgotten users' vectors, nothing else",
               "triangle-down", forget=M.drop_vectors),
        Method("original-item-cf", "Item-CF, nothing forgotten", "reference",
               "the item-CF model trained with the forget set: what the attack sees in this model", "x-open",
               model="item-based CF", compared_with="item-CF retrained from scratch"),
        Method("item-cf", "Item-CF forget (Amnesia)", "exact",
               "this project's decremental item-based CF, certified by fingerprint", "hexagram",
               model="item-based CF", compared_with="item-CF retrained from scratch",
               own_retrain="the item-CF model without them"),
        Method("original-item-knn", "Item-kNN, nothing forgotten", "reference",
               "item-CF with each movie's K most similar movies, trained with the forget set: what the attack sees",
               "star-open", model="item-kNN", compared_with="item-kNN retrained from scratch"),
        Method("item-knn", "Item-kNN forget (exact lists)", "exact",
               "item-CF whose neighbour lists (K, similarity and scoring chosen on validation) stay exact under every "
               "forget, certified by fingerprint", "star-diamond", model="item-kNN", compared_with="item-kNN retrained from scratch",
               own_retrain="the item-kNN model without them"),
        Method("original-ease", "EASE, nothing forgotten", "reference",
               "the EASE model trained with the forget set: what the attack sees in this model", "cross-open",
               model="EASE", compared_with="EASE retrained from scratch", full_only=True),
        Method("ease", "EASE forget (exact)", "exact",
               "EASE (Steck 2019) whose inverse follows each forget by an exact rank-one update, certified against a "
               "retrain", "cross", model="EASE", compared_with="EASE retrained from scratch",
               own_retrain="the EASE model without them", full_only=True),
    )
}

#: The approximate methods, in the registry's order.
APPROXIMATE: tuple[str, ...] = tuple(name for name, method in METHODS.items() if method.family == "approximate")
#: The ways the factorisation forgets (every method of weighted ALS but the untouched original).
ALS_WAYS: tuple[str, ...] = tuple(
    name for name, method in METHODS.items() if method.model == "weighted ALS" and method.family != "reference"
)
#: The models of their own that this project forgets exactly (certified against a retrain).
EXACT_MODELS: tuple[str, ...] = tuple(method.model for method in METHODS.values() if method.own_retrain)
#: The methods whose settings the tuning command chooses.
TUNED: tuple[str, ...] = tuple(name for name, method in METHODS.items() if method.tuned)
