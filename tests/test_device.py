"""The ONNX export: onnxruntime's scores equal a plain reference of the same definition.

score(b) = Σ over the history's items a of S_ab, counting only a's K most similar other items
(ties to the smaller item id; K = None: all), history items get -inf. The reference below is
written independently of amnesia.device: a Python sort per row of the model's dense S.
"""

from __future__ import annotations

import json
import math

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amnesia import AmnesiaError, ItemCF
from amnesia.data.datasets import load
from amnesia.device import build_device_model, export_onnx, model_version, neighbour_table
from amnesia.device import export as export_module

RTOL, ATOL = 1e-12, 1e-12  # float64 weights summed by onnxruntime vs a plain per-item sum (other order)


def reference_scores(model: ItemCF, history: list[int], neighbours: int | None) -> np.ndarray:
    """Plain definition: per history item, sort the other items by (-S, id), keep K, add up."""
    items = model.items()
    similarity = model.similarities(items)
    scores = np.zeros(len(items))
    for a in sorted(set(history)):
        row = sorted((b for b in range(len(items)) if b != a), key=lambda b: (-similarity[a, b], items[b]))
        for b in row if neighbours is None else row[:neighbours]:
            scores[b] += similarity[a, b]
    scores[sorted(set(history))] = -np.inf
    return scores


def run(model_bytes: bytes, history: list[int]) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {"history": np.array(history, dtype=np.int64)})))


def assert_scores_match(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.dtype == np.float64 and got.shape == expected.shape
    assert np.array_equal(np.isneginf(got), np.isneginf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=RTOL, atol=ATOL)


def assert_top_consistent(outputs: dict[str, np.ndarray]) -> None:
    """top_items/top_scores are the k best of `scores`, ties to the smaller position."""
    scores, top_items, top_scores = outputs["scores"], outputs["top_items"], outputs["top_scores"]
    order = np.lexsort((np.arange(len(scores)), -scores))[: len(top_items)]
    assert top_items.tolist() == order.tolist()
    assert np.array_equal(top_scores, scores[order])


@st.composite
def worlds(draw):
    """A small model with sparse item ids, sometimes a fork that forgot a user and gained a new
    item with a small id (its internal index then differs from its position in id order)."""
    users = draw(st.integers(2, 7))
    pairs = draw(st.lists(st.tuples(st.integers(0, users - 1), st.integers(0, 11)), min_size=2, max_size=40))
    model = ItemCF.fit([(user, 7 * item + 3) for user, item in pairs], similarity=draw(st.sampled_from(["jaccard", "cosine"])))
    if draw(st.booleans()) and len(model.users()) > 1:
        model = model.fork()
        model.forget_user(draw(st.sampled_from(model.users())))
        model.add_user(99, [1, *draw(st.lists(st.sampled_from(model.items() or [1]), max_size=3))])
    return model


@settings(max_examples=60, deadline=None)
@given(world=worlds(), neighbours=st.one_of(st.none(), st.integers(1, 6)), data=st.data())
def test_onnxruntime_scores_equal_the_reference(world, neighbours, data):
    exported = build_device_model(world, neighbours, keep_table=True)
    n = len(world.items())
    history = data.draw(st.lists(st.integers(0, n - 1), max_size=6), label="history")
    outputs = run(exported.onnx_bytes, history)
    expected = reference_scores(world, history, neighbours)
    assert_scores_match(outputs["scores"], expected)
    assert_scores_match(exported.table.scores(history), expected)  # the numpy mirror of the graph
    assert_top_consistent(outputs)


@settings(max_examples=40, deadline=None)
@given(world=worlds())
def test_all_neighbours_equals_recommend_for_every_user(world):
    exported = build_device_model(world, None)
    position = {item: k for k, item in enumerate(world.items())}
    for user in world.users():
        history = [position[item] for item in world.history(user)]
        outputs = run(exported.onnx_bytes, history)
        recommended = world.recommend(user, k=len(position))
        scores = outputs["scores"]
        got = {world.items()[p]: float(scores[p]) for p in np.flatnonzero(scores > 0)}
        assert set(got) == {rec.item for rec in recommended}
        for rec in recommended:
            assert math.isclose(got[rec.item], rec.score, rel_tol=RTOL, abs_tol=ATOL)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_both_selections_keep_the_k_best_with_ties_to_the_smaller_position(data):
    """The compiled one-pass selection and the numpy partition agree with a sort, on rows full of ties."""
    n = data.draw(st.integers(2, 12), label="n")
    rows = data.draw(st.integers(1, n), label="rows")
    k = data.draw(st.integers(1, n - 1), label="k")
    first = data.draw(st.integers(0, n - rows), label="first")
    order = np.array(data.draw(st.permutations(range(n)), label="order"), dtype=np.int64)
    cell = st.sampled_from([0.0, 0.25, 1 / 3, 0.5, 1.0])
    block = np.array(data.draw(st.lists(st.lists(cell, min_size=n, max_size=n), min_size=rows, max_size=rows)))
    by_position = block[:, order]
    expected = [
        sorted((p for p in range(n) if p != first + r), key=lambda p: (-by_position[r, p], p))[:k] for r in range(rows)
    ]
    assert export_module._top_columns_kernel(block, k, first, order).tolist() == expected
    masked = by_position.copy()
    masked[np.arange(rows), first + np.arange(rows)] = -1.0
    assert export_module._top_columns(masked, k).tolist() == expected


def test_the_numpy_selection_gives_the_same_table(monkeypatch):
    data = load("toy")
    model = ItemCF.fit(data.interactions)
    compiled = neighbour_table(model, 2)
    monkeypatch.setattr(export_module, "_KERNEL_MAX_K", 0)
    plain = neighbour_table(model, 2)
    assert np.array_equal(compiled.index, plain.index) and np.array_equal(compiled.weight, plain.weight)


def test_toy_world_top_items_equal_recommend():
    data = load("toy")
    model = ItemCF.fit(data.interactions)
    exported = build_device_model(model, None, data.catalog)
    items = exported.sidecar["items"]
    for user in model.users():
        outputs = run(exported.onnx_bytes, [items.index(i) for i in model.history(user)])
        top = [items[p] for p, s in zip(outputs["top_items"], outputs["top_scores"]) if s > 0]
        assert top == [rec.item for rec in model.recommend(user, 10)]
    # Bob watched The Matrix and Titanic: Toy Story 1/2+1/3, Finding Nemo 1/4+1/2, The Godfather 1/2+0
    bob = run(exported.onnx_bytes, [1, 2])
    assert [items[p] for p in bob["top_items"][:3]] == [0, 4, 3]
    np.testing.assert_allclose(bob["top_scores"][:3], [5 / 6, 3 / 4, 1 / 2], rtol=1e-6)


def test_k_keeps_only_the_nearest_neighbours_with_ties_to_the_smaller_id():
    # item 10 co-occurs with 20, 30 and 40 equally (S = 1/(3+2-1) = 1/4 each); K = 2 keeps 20 and 30
    model = ItemCF.fit([(0, 10), (0, 20), (1, 10), (1, 30), (2, 10), (2, 40), (3, 20), (4, 30), (5, 40)])
    table = neighbour_table(model, 2)
    assert table.index[0].tolist() == [1, 2] and table.weight[0].tolist() == [0.25, 0.25]
    outputs = run(build_device_model(model, 2).onnx_bytes, [0])
    assert outputs["scores"].tolist() == [-np.inf, 0.25, 0.25, 0.0]


def test_history_repeats_count_once_and_an_empty_history_scores_zero():
    data = load("toy")
    model_bytes = build_device_model(ItemCF.fit(data.interactions), None).onnx_bytes
    assert np.array_equal(run(model_bytes, [1, 2, 2, 1])["scores"], run(model_bytes, [2, 1])["scores"])
    empty = run(model_bytes, [])
    assert empty["scores"].tolist() == [0.0] * 5 and empty["top_items"].tolist() == [0, 1, 2, 3, 4]


def test_export_writes_the_model_and_its_sidecar(tmp_path):
    data = load("toy")
    model = ItemCF.fit(data.interactions)
    exported = export_onnx(model, tmp_path / "toy.onnx", neighbours=3, catalog=data.catalog)
    sidecar = json.loads((tmp_path / "toy.json").read_text())
    fingerprint = model.fingerprint()
    assert sidecar == exported.sidecar
    assert sidecar["items"] == model.items() == [0, 1, 2, 3, 4]
    assert sidecar["titles"] == ["Toy Story (1995)", "The Matrix (1999)", "Titanic (1997)", "The Godfather (1972)", "Finding Nemo (2003)"]
    assert sidecar["years"] == [1995, 1999, 1997, 1972, 2003]
    assert sidecar["fingerprint"] == fingerprint and sidecar["measure"] == "jaccard" and sidecar["neighbours"] == 3
    assert sidecar["version"] == model_version(fingerprint, "jaccard", 3) != model_version(fingerprint, "jaccard", 4)
    graph = onnx.load(tmp_path / "toy.onnx")
    onnx.checker.check_model(graph)
    props = {p.key: p.value for p in graph.metadata_props}
    assert props["version"] == sidecar["version"] and props["fingerprint"] == fingerprint
    assert [o.name for o in graph.graph.output] == ["scores", "top_items", "top_scores"]
    assert graph.opset_import[0].version == 17
    assert {node.op_type for node in graph.graph.node} >= {"Gather", "ScatterElements", "TopK"}
    weights = {init.name: init for init in graph.graph.initializer}
    assert weights["neighbour_weight"].data_type == onnx.TensorProto.DOUBLE
    assert weights["neighbour_index"].data_type == onnx.TensorProto.UINT16


def test_the_measure_is_recorded_and_changes_the_version():
    data = load("toy")
    jaccard = build_device_model(ItemCF.fit(data.interactions), None, keep_table=True)
    cosine_model = ItemCF.fit(data.interactions, similarity="cosine")
    cosine = build_device_model(cosine_model, None, keep_table=True)
    assert cosine.sidecar["measure"] == "cosine" and jaccard.sidecar["measure"] == "jaccard"
    assert cosine.version != jaccard.version
    # Toy Story and The Matrix: C = 2, n = 2 and 4, so cosine 2/sqrt(8), Jaccard 2/4
    assert cosine.table.weight[0, 0] == 2 / np.sqrt(8) and jaccard.table.weight[0, 0] == 0.5
    assert_scores_match(run(cosine.onnx_bytes, [1, 2])["scores"], reference_scores(cosine_model, [1, 2], None))


def test_forgetting_changes_the_version_and_the_weights():
    data = load("toy")
    model = ItemCF.fit(data.interactions)
    before = build_device_model(model, None, keep_table=True)
    fork = model.fork()
    fork.forget_user(0)  # Alice: the only viewer of Finding Nemo
    after = build_device_model(fork, None, keep_table=True)
    assert after.version != before.version
    assert after.sidecar["items"] == [0, 1, 2, 3]
    retrained = build_device_model(ItemCF.fit(data.interactions[data.interactions.user != 0]), None)
    assert retrained.onnx_bytes == after.onnx_bytes  # forgetting = retraining, down to the device's bytes


def test_the_index_widens_to_int32_for_large_catalogs(monkeypatch):
    monkeypatch.setattr(export_module, "_UINT16_ITEMS", 3)
    data = load("toy")
    model = ItemCF.fit(data.interactions)
    exported = build_device_model(model, 2, keep_table=True)
    assert exported.table.index.dtype == np.int32
    assert_scores_match(run(exported.onnx_bytes, [1, 2])["scores"], reference_scores(model, [1, 2], 2))


@pytest.mark.parametrize("neighbours", [0, -3, 2.5, True, "50"])
def test_bad_k_is_refused(neighbours):
    with pytest.raises(AmnesiaError, match="neighbours must be a positive whole number"):
        neighbour_table(ItemCF.fit([(0, 1), (0, 2)]), neighbours)


def test_an_empty_model_and_an_oversized_table_are_refused(monkeypatch):
    with pytest.raises(AmnesiaError, match="nothing to export"):
        neighbour_table(ItemCF(), 5)
    monkeypatch.setattr(export_module, "MAX_ENTRIES", 8)
    data = load("toy")
    with pytest.raises(AmnesiaError, match="export with a smaller K"):
        neighbour_table(ItemCF.fit(data.interactions), None)
    assert neighbour_table(ItemCF.fit(data.interactions), 1).width == 1


def test_bad_history_positions_are_refused_by_the_numpy_mirror():
    table = neighbour_table(ItemCF.fit([(0, 1), (0, 2)]), 1)
    with pytest.raises(AmnesiaError, match="must lie in 0..1"):
        table.scores([2])


def test_movielens_k50_fits_in_5_mb_and_matches_the_reference_on_real_histories():
    data = load("movielens-small")
    model = ItemCF.fit(data.interactions)
    # the fingerprint only names the version (checked on the toy world): skip its second of work here
    exported = build_device_model(model, 50, data.catalog, fingerprint="not-checked-here", keep_table=True)
    assert len(exported.onnx_bytes) <= 5_000_000
    items = np.array(model.items())
    assert exported.sidecar["items"] == items.tolist() and len(items) == 9724
    session = ort.InferenceSession(exported.onnx_bytes, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(11)
    for user in rng.choice(model.users(), 3, replace=False).tolist():
        history_items = rng.choice(model.history(user), min(12, len(model.history(user))), replace=False)
        history = np.searchsorted(items, history_items)
        ids, rows = model.similarity_rows(history_items.tolist())
        rows = rows[:, np.argsort(ids)]  # internal (popularity) order -> id order
        expected = np.zeros(len(items))
        for a, row in zip(history, rows):
            row = row.copy()
            row[a] = -1.0
            nearest = np.lexsort((np.arange(len(items)), -row))[:50]
            expected[nearest] += row[nearest]
        expected[history] = -np.inf
        scores, top_items, _ = session.run(None, {"history": history.astype(np.int64)})
        assert_scores_match(scores, expected)
        assert_scores_match(exported.table.scores(history), expected)


@pytest.mark.parametrize("measure", ["jaccard", "cosine"])
def test_a_model_with_lists_exports_them_and_the_device_ranks_as_the_engine_does(measure):
    """Fitted with neighbours=K and exported at K, the table is the model's own lists (equal to the
    lists chosen from S), and onnxruntime's scores for each user equal recommend()'s, bit for bit."""
    rng = np.random.default_rng(4)
    pairs = sorted({(int(u), int(i)) for u, i in zip(rng.integers(0, 60, 900), rng.zipf(1.4, 900) % 80)})
    model = ItemCF.fit(pairs, measure, neighbours=5)
    model.forget_user(pairs[0][0])
    model.add([(500, 3), (500, 7), (500, 11)])
    exported = build_device_model(model, 5, keep_table=True)
    plain = neighbour_table(ItemCF.fit(model.interactions(), measure), 5)  # the same rule, from S
    assert np.array_equal(exported.table.index, plain.index) and np.array_equal(exported.table.weight, plain.weight)
    items = np.asarray(model.items())
    session = ort.InferenceSession(exported.onnx_bytes, providers=["CPUExecutionProvider"])
    for user in model.users():
        positions = np.searchsorted(items, model.history(user)).astype(np.int64)
        scores, top_items, top_scores = session.run(None, {"history": positions})
        device = [(int(items[p]), float(s)) for p, s in zip(top_items, top_scores) if s > 0]
        assert device == [(r.item, r.score) for r in model.recommend(user, 10)]


def test_an_export_keeps_the_models_own_k_unless_told_otherwise(tmp_path):
    """export_onnx(model, path) had exported K = 50 whatever the model kept: a K = 3 model's device
    top-10 then differed from recommend() for every user although the README calls it the same model."""
    rng = np.random.default_rng(5)
    pairs = sorted({(int(u), int(i)) for u, i in zip(rng.integers(0, 40, 600), rng.zipf(1.4, 600) % 70)})
    model = ItemCF.fit(pairs, neighbours=3, scoring="candidate")
    exported = export_onnx(model, tmp_path / "lists.onnx")
    assert (exported.sidecar["neighbours"], exported.sidecar["scoring"]) == (3, "candidate")
    items = np.asarray(model.items())
    session = ort.InferenceSession(exported.onnx_bytes, providers=["CPUExecutionProvider"])
    for user in model.users():
        _, top_items, top_scores = session.run(None, {"history": np.searchsorted(items, model.history(user)).astype(np.int64)})
        assert [(int(items[p]), float(s)) for p, s in zip(top_items, top_scores) if s > 0] == [
            (r.item, r.score) for r in model.recommend(user, 10)]
    assert export_onnx(model, tmp_path / "k7.onnx", neighbours=7).sidecar["neighbours"] == 7
    assert export_onnx(ItemCF.fit(pairs), tmp_path / "every.onnx").sidecar["neighbours"] == export_module.DEFAULT_NEIGHBOURS == 50


@pytest.mark.parametrize("scoring", ["candidate", "history"])
def test_every_constant_of_the_graph_is_read_by_a_node(scoring):
    """The browser's runtime warned at every load ("Removing initializer 'flat'") about a constant
    that only the other scoring's graph reads."""
    model = ItemCF.fit([(0, 1), (0, 2), (1, 2), (1, 3), (2, 1), (2, 3)], neighbours=2, scoring=scoring)
    graph = onnx.load_from_string(build_device_model(model, 2).onnx_bytes).graph
    read = {name for node in graph.node for name in node.input}
    assert sorted(i.name for i in graph.initializer if i.name not in read) == []


@pytest.mark.parametrize("measure", ["jaccard", "cosine"])
def test_candidate_scoring_exports_its_own_graph_and_the_device_ranks_as_the_engine_does(measure):
    """A model that scores each candidate from its own list exports the same lists with the
    candidate graph: onnxruntime's top 10 (and every score) equal recommend()'s bit for bit, the
    sidecar says so, and the version differs from the history-scored export of the same lists."""
    rng = np.random.default_rng(5)
    pairs = sorted({(int(u), int(i)) for u, i in zip(rng.integers(0, 60, 900), rng.zipf(1.4, 900) % 80)})
    model = ItemCF.fit(pairs, measure, neighbours=5, scoring="candidate")
    model.forget_user(pairs[0][0])
    model.add([(500, 3), (500, 7), (500, 11)])
    exported = build_device_model(model, 5, keep_table=True)
    history_scored = build_device_model(model.with_neighbours(5, "history"), 5, keep_table=True)
    assert exported.sidecar["scoring"] == "candidate" and history_scored.sidecar["scoring"] == "history"
    assert exported.version != history_scored.version
    assert np.array_equal(exported.table.index, history_scored.table.index)
    items = np.asarray(model.items())
    lists = dict(zip(model.items(), model.neighbour_lists(model.items())))
    session = ort.InferenceSession(exported.onnx_bytes, providers=["CPUExecutionProvider"])
    differs = 0
    for user in model.users():
        history = model.history(user)
        positions = np.searchsorted(items, history).astype(np.int64)
        scores, top_items, top_scores = session.run(None, {"history": positions})
        device = [(int(items[p]), float(s)) for p, s in zip(top_items, top_scores) if s > 0]
        assert device == [(r.item, r.score) for r in model.recommend(user, 10)]
        assert np.array_equal(scores, exported.table.scores(positions))
        # the plain definition: each candidate's own list, in order, counting the user's items
        plain = np.array([sum((v for a, v in lists[b] if a in set(history)), 0.0) for b in model.items()])
        plain[positions] = -np.inf
        assert np.array_equal(scores, plain)
        differs += device != [(int(items[p]), float(s)) for p, s in zip(*session_top(history_scored, positions)) if s > 0]
    assert differs > 0  # the two graphs are two models


def session_top(exported, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _, top_items, top_scores = ort.InferenceSession(exported.onnx_bytes, providers=["CPUExecutionProvider"]).run(
        None, {"history": positions})
    return top_items, top_scores
