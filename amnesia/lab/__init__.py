"""The unlearning lab: exact forgetting beside approximate unlearning of a model-based recommender.

A weighted-ALS matrix factorisation (``implicit``) is asked to forget users by retraining, SISA,
fine-tuning, NegGrad, Fisher forgetting or deleting their vectors, and this project's item-based
CF forgets them exactly; each is measured the way the NeurIPS 2023 unlearning challenge and
CURE4Rec measure unlearning, always against the null control (retrain vs retrain). Run it with
``python -m amnesia lab``. No Streamlit import here.
"""

from .metrics import epsilon, epsilon_scores, final_score, forgetting_quality, user_epsilons
from .jobs import LAB_GATE, RunGate, run_in_subprocess
from .run import LabConfig, quick_config, run_lab

__all__ = [
    "LAB_GATE",
    "LabConfig",
    "RunGate",
    "epsilon",
    "epsilon_scores",
    "final_score",
    "forgetting_quality",
    "quick_config",
    "run_in_subprocess",
    "run_lab",
    "user_epsilons",
]
