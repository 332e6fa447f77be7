"""ModelConfig: the one place a model's measure, layout and limits are checked."""

from __future__ import annotations

import pytest

from amnesia import APP_LIMITS, CLI_LIMITS, AmnesiaError, ItemCF
from amnesia.engine.config import ModelConfig

PAIRS = [(0, 1), (0, 2), (1, 1), (1, 3), (2, 2), (2, 3), (2, 1)]


@pytest.mark.parametrize(("similarity", "layout"), [("jaccard", "dense"), ("Cosine", "sparse"), ("cosine", 2)])
def test_a_config_fits_the_model_its_arguments_name(similarity, layout):
    config = ModelConfig(similarity, layout)
    model = config.fit(PAIRS)
    assert model.fingerprint() == ItemCF.fit(PAIRS, similarity.lower(), store=layout).fingerprint()
    assert config.similarity == similarity.lower() and config.limits is CLI_LIMITS
    assert ModelConfig.of(model) == ModelConfig(similarity.lower(), model.store_kind)
    assert config.empty().measure is config.measure and config.empty().time == -1


def test_bad_values_are_refused_with_the_choices():
    with pytest.raises(AmnesiaError, match=r"Unknown similarity 'pearson'; choose one of jaccard, cosine"):
        ModelConfig("pearson")
    with pytest.raises(AmnesiaError, match=r"Unknown store layout 'columnar'; choose one of auto, dense, sparse"):
        ModelConfig(layout="columnar")
    for layout in (-1, True, 2.5):
        with pytest.raises(AmnesiaError, match="Unknown store layout"):
            ModelConfig(layout=layout)
    with pytest.raises(AmnesiaError, match="limits must be an amnesia.Limits"):
        ModelConfig(limits={"interactions": 5})
    assert ModelConfig(limits=APP_LIMITS).limits is APP_LIMITS


def test_a_config_carries_the_neighbours():
    config = ModelConfig("cosine", "dense", neighbours=2)
    model = config.fit(PAIRS)
    assert model.neighbours == 2 and ModelConfig.of(model) == config
    assert model.fingerprint() == ItemCF.fit(PAIRS, "cosine", store="dense", neighbours=2).fingerprint()
    assert config.empty().neighbours == 2
    with pytest.raises(AmnesiaError, match="neighbours must be a whole number"):
        ModelConfig(neighbours=0)
