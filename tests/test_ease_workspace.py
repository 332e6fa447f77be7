"""A visitor's workspace on EASE: the dashboard's flows without Streamlit, checked against the
definition (a new EASE fitted on the remaining data) and the command line's stream."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from amnesia import AmnesiaError, RequestError
from amnesia.dashboard.figures import stages, update_figure
from amnesia.dashboard.views import EASE_MATRICES, window_csv
from amnesia.dashboard.workspace import EASE_SETTINGS, EaseWorkspace, Workspace, shared_base, shared_ease
from amnesia.engine.ease import EASE


@pytest.fixture(scope="module")
def toy_ease():
    data, model = shared_base("toy")
    return data, shared_ease(data, model)


@pytest.fixture(scope="module")
def movielens_ease():
    data, model = shared_base("movielens-small")
    return data, shared_ease(data, model)


def _retrained(space: EaseWorkspace) -> EASE:
    """EASE fitted from scratch on the workspace's remaining interactions, over the same items."""
    ease = space.ease
    return EASE.fit(space.model.interactions(), ease.l2, items=ease.items_scored.tolist())


def _state(space: EaseWorkspace) -> tuple[str, bytes]:
    return space.ease.fingerprint(), space.ease.inverse.tobytes()


def test_a_forget_shows_h_n_g_and_b_and_the_weights_equal_a_retrains(toy_ease):
    space = EaseWorkspace(*toy_ease)
    entry = space.forget_user(0)
    assert entry.action == "Forgot Alice (4 movies)" and space.model.history(0) == []
    before, after = entry.before, entry.after
    assert before.matrices == after.matrices == EASE_MATRICES
    items = list(after.items)
    np.testing.assert_allclose(after.similarities, _retrained(space).weights_among(items), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(before.similarities, toy_ease[1].weights_among(items))  # the shared model, untouched
    assert np.diagonal(after.cooccurrences).tolist() == after.counts.tolist()  # G: n on the diagonal
    figure = update_figure(before, after, entry.label, space.weights_label)
    assert [frame.name for frame in figure.frames] == list(stages(EASE_MATRICES)) == [
        "before", "1 · H changes", "2 · n changes", "3 · G changes", "4 · B changes"]
    assert figure.layout.annotations[3].text.startswith("B: weights (EASE, λ = 1)")
    # G's diagonal is said in its small line: in the title, at 1,024 px, G's title ran into B's
    assert figure.layout.annotations[2].text == ("G: how many watched both<br><span style='font-size:11px'>"
                                                 "16 of 25 cells changed; n on the diagonal</span>")
    assert figure.data[3].colorscale[0][1] != figure.data[2].colorscale[0][1] and figure.data[3].zmid == 0  # diverging
    # every weight but the diagonal moved; the sentence says how many and why
    scored = space.ease.items_scored.tolist()
    moved = np.count_nonzero(space.ease.weights(scored) != toy_ease[1].weights(scored))
    assert entry.effect.changed_s == moved == 19  # of 5 x 4: B from The Matrix to The Godfather happens to stay 0.5
    assert space.spread_sentence(entry).startswith("This change moved 19 of the 20 weights of B. Every weight comes from")
    top = space.largest_changes(entry)[0]
    retrained = _retrained(space)
    assert top.s_new == pytest.approx(float(retrained.weights([top.item_a, top.item_b])[0, 1]), abs=1e-12)
    assert space.pair_sentences([top])[0].startswith(f"From {space.catalog.title(top.item_a)} to {space.catalog.title(top.item_b)}: ")
    assert "weight,\n" not in window_csv(after) and window_csv(after).splitlines()[0].endswith(",cooccurrences,weight")
    assert len(window_csv(after).splitlines()) == 1 + 5 * 4  # every ordered pair: B is not symmetric


def test_recommendations_the_forget_effect_and_verify_use_ease(toy_ease):
    space = EaseWorkspace(*toy_ease)
    table = space.recommendation_table(1)
    assert table["movie"].tolist() == [space.catalog.title(r.item) for r in space.ease.recommend(1, 10)]
    first = space.forget_user(0)
    space.add_user("Maya", typed="toy story\nthe matrix")
    # an older forget's effect comes from a new inverse at its time: the same as the live one would have been
    effect = space.forget_effect(first)
    before = EASE.fit(toy_ease[1].counts_model.interactions(), 1.0, items=toy_ease[1].items_scored.tolist())
    after = before.fork()
    after.forget_user(0)
    expected = [u for u in (1, 2, 3) if [r.item for r in before.recommend(u, 5)] != [r.item for r in after.recommend(u, 5)]
                or [round(r.score, 6) for r in before.recommend(u, 5)] != [round(r.score, 6) for r in after.recommend(u, 5)]]
    assert sorted(change.user for change in effect.changed) == expected and effect.examined == 3
    result = space.verify()
    assert result.match and result.certificate.top10_equal and result.certificate.fingerprint_equal
    assert result.certificate.max_rel_diff < 1e-12 and result.fingerprint == result.retrained_fingerprint


def test_bad_requests_change_nothing_and_visitors_do_not_see_each_other(toy_ease):
    space, other = EaseWorkspace(*toy_ease), EaseWorkspace(*toy_ease)
    shared = _state(EaseWorkspace(*toy_ease))
    space.forget_user(1)
    changed = _state(space)
    for action, message in (
        (lambda: space.forget_user(1), "has no interactions left to forget"),
        (lambda: space.add_user("Ann", typed="no such film at all"), "no such film"),
        (lambda: space.apply_json('{"change": "Remove", "interactions": [[0, 99]]}'), "Cannot remove"),
    ):
        with pytest.raises(AmnesiaError, match=message):
            action()
        assert _state(space) == changed and len(space.log) == 1
    assert _state(other) == shared and toy_ease[1].counts_model.history(1) != []


def test_an_imported_log_gives_the_same_model_and_figures_and_the_export_is_the_streams(toy_ease):
    space = EaseWorkspace(*toy_ease)
    space.add_user("Maya", typed="toy story\nthe matrix")
    space.forget_user(0)
    other = EaseWorkspace(*toy_ease)
    assert other.import_log(space.request_log()) == 2
    assert other.ease.fingerprint() == space.ease.fingerprint()
    np.testing.assert_allclose(other.ease.inverse, space.ease.inverse, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(other.log[-1].after.similarities, space.log[-1].after.similarities)
    with pytest.raises(RequestError, match="^Line 1 of the request log"):
        other.import_log('{"change": "Remove", "interactions": [[42, 0]]}')
    assert other.ease.fingerprint() == space.ease.fingerprint() and len(other.log) == 2
    # B is not in the stream: the export writes H, n and C, as the command it names does
    command = space.replay_command()
    assert command == "python -m amnesia stream --data toy --changes-only --emit H,n,C < amnesia-toy-requests.jsonl"
    stream = subprocess.run([sys.executable, "-m", "amnesia", *command.split(" < ")[0].split()[3:]],
                            input=space.request_log(), capture_output=True, text=True, timeout=120, check=True)
    replayed = stream.stdout.splitlines(keepends=True)  # only the requests' records, as the download
    exported = b"".join(space.export_chunks()).decode().splitlines(keepends=True)
    assert exported == replayed and {json.loads(line)["data"] for line in exported} == {
        "interactions", "item_interactions_n", "cooccurrences_c"}
    assert space.export_estimate().records == len(replayed) and space.export_estimate().exact
    assert {r["data"] for r in space.history.window_records()} == {"interactions", "item_interactions_n", "cooccurrences_c"}


def test_movielens_scores_the_movies_twenty_people_watched_and_a_forget_equals_a_retrain(movielens_ease):
    data, base = movielens_ease
    assert EASE_SETTINGS["movielens-small"].min_viewers == 30 and len(base.items_scored) == 882
    # the Forget page's tiers of 1 and 10 viewers narrow nothing below EASE's floor: its list heading says none
    assert EaseWorkspace(data, base).weights_from == 30 and Workspace(data, base.counts_model).weights_from == 1
    assert base.inverse.nbytes == 882**2 * 8  # 6.2 MB: what each visitor's copy costs
    space = EaseWorkspace(data, base)
    entry = space.forget_user(68)
    retrained = _retrained(space)
    np.testing.assert_allclose(entry.after.similarities, retrained.weights_among(list(entry.after.items)), rtol=0, atol=1e-12)
    assert entry.effect.ranking(10).pairs and all(
        min(space.model.counts([p.item_a, p.item_b])) >= 10 for p in entry.effect.ranking(10).pairs)
    assert [r.item for r in space.ease.recommend(1, 10)] == [r.item for r in retrained.recommend(1, 10)]


def test_a_visitor_keeps_one_copy_of_p_and_other_windows_rebuild_the_state_before(movielens_ease):
    data, base = movielens_ease
    space = EaseWorkspace(data, base)
    entry = space.forget_user(68)
    assert space._previous is None  # the copy of P taken for the change is gone with it
    before, after = space.latest_windows(max_items=10, min_viewers=50)
    assert len(before.items) == 10 and min(base.counts_model.counts(list(before.items))) >= 50  # the tier: n before or after
    np.testing.assert_allclose(before.similarities, base.weights_among(list(before.items)), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(after.similarities, space.ease.weights_among(list(after.items)))
    assert before.items == tuple(i for i in entry.effect.ranking(50).items[:10])


def test_a_heavy_forgets_window_is_the_users_movies_so_every_step_moves(movielens_ease):
    """One rank-one change moves every weight of B, and a heavy forget's largest moves can all be
    between movies the user never watched: a window of those showed H, n and G unchanged at every
    step until B. The change's own movies come first, then the rest of its reach."""
    data, base = movielens_ease
    space = EaseWorkspace(data, base)
    own = set(space.model.history(414))  # 2,698 movies, the heaviest user of MovieLens latest-small
    entry = space.forget_user(414)
    before, after = entry.before, entry.after
    assert len(before.items) == 20 and set(before.items) <= own
    assert before.description.startswith("A focus window: the 20 movies of this change whose weights it moved most")
    ranking = entry.effect.ranking(space.default_min_viewers)
    assert before.items == ranking.items[:20]
    row = before.users.index(414)
    assert (before.history[row] == 1).all() and (after.history[row] == 0).all()  # H: every column
    assert (after.counts == before.counts - 1).all()  # n
    assert (np.diagonal(after.cooccurrences) == np.diagonal(before.cooccurrences) - 1).all()  # G
    assert (after.similarities != before.similarities).sum() > 0.9 * 20 * 19  # B
    # 128 of 414's movies had no other viewer, none of them among the 882 EASE scores: they had no weight to lose
    lonely = [item for item in own if base.counts_model.count(item) == 1]
    assert len(lonely) == 128 and not set(lonely) & set(base.items_scored.tolist())
    assert entry.effect.emptied_count == 0 and space.emptied_sentence(entry) == ""
    # the largest moves of B lie between movies 414 never watched: the page says they are not in the charts, and why
    pairs = space.largest_changes(entry)
    outside = [p for p in pairs if p.item_a not in before.items or p.item_b not in before.items]
    assert len(pairs) == 10 and outside and all(p.c_old == p.c_new for p in outside if not {p.item_a, p.item_b} & own)
    assert len(outside) == 10 and space.outside_sentence(pairs, after) == (
        "All 10 of these pairs involve movies outside the charts above, which show 20 movies. The charts "
        "show this change's own movies first; the rank-one change of P also moves weights between movies the user "
        "never watched, where G stays the same.")
    assert space.outside_sentence(pairs[:1], after).startswith("This pair involves a movie outside the charts above")
    assert space.outside_sentence([p for p in pairs if p not in outside], after) == ""
    # the changes read in the list's order: at 3 decimals they read −0.009 three times, −0.008 five, then −0.009
    shown = [float(sentence.rsplit(" (G", 1)[0].rsplit("(", 1)[1].rstrip(")").replace("−", "-"))
             for sentence in space.pair_sentences(pairs)]
    assert shown == sorted(shown, key=abs, reverse=True)
    assert shown[:3] == [-0.00893, -0.00886, -0.00862]


def test_a_light_adds_window_starts_with_its_movies_and_says_so(movielens_ease):
    data, base = movielens_ease
    space = EaseWorkspace(data, base)
    scored = base.items_scored.tolist()
    movies = [scored[0], scored[400], scored[881]]
    entry = space.add_user("Maya", movies)
    assert sorted(entry.before.items[:3]) == sorted(movies) and not set(entry.before.items[3:]) & set(movies)
    assert entry.before.description.startswith(
        "A focus window: the 20 movies, the first 3 of them this change's own, then those whose weights it moved most "
        "(largest |ΔB| first in each part); ")
    assert entry.effect.ranking(space.default_min_viewers).items[:3] == entry.before.items[:3]
    # the list in one precision, so its lines compare ("+0.0094" above "+0.01" read as unsorted)
    values = [sentence.rsplit(" (G", 1)[0].rsplit(": ", 1)[1] for sentence in space.pair_sentences(space.largest_changes(entry))]
    decimals = {len(number.split(".")[1]) for line in values for number in line.replace("(", " ").replace(")", " ").split()
                if "." in number}
    assert len(values) == 10 and len(decimals) == 1, values


def test_a_window_whose_effect_was_not_measured_says_it_lists_the_changed_movies(movielens_ease):
    from amnesia.limits import APP_LIMITS

    data, base = movielens_ease
    space = EaseWorkspace(data, base, limits=APP_LIMITS.replace(read_work=1))  # measuring B costs more
    entry = space.forget_user(68)
    assert entry.effect is None
    assert entry.before.description.startswith(
        "A focus window: the 20 movies this change touched, most watched first (its effect on every weight was not "
        "measured); ")
    assert set(entry.before.items) <= set(base.counts_model.history(68))


def test_erasing_a_forgotten_user_from_the_log_keeps_eases_weights(toy_ease):
    space = EaseWorkspace(*toy_ease)
    maya = space.add_user("Maya", typed="toy story\nthe matrix").change.touched_users[0]
    space.forget_user(0)
    space.forget_user(maya)
    weights, fingerprint = space.ease.inverse.copy(), space.ease.fingerprint()
    assert space.erasable() == [(maya, "Maya", 3)]
    assert space.erase_from_log(maya) == 2
    # the model is the replay's: the same counts, and weights reached by fewer rank-one updates, equal to rounding
    assert space.ease.fingerprint() == fingerprint
    np.testing.assert_allclose(space.ease.inverse, weights, rtol=0, atol=1e-12)
    assert [e.label for e in space.log] == ["t = 1: Added a user, since erased from this log",
                                            "t = 2: Forgot Alice (4 movies)", "t = 3: Forgot a user, since erased from this log"]
    assert not any(maya in e.after.users or maya in e.before.users for e in space.log)
    retrained = _retrained(space)
    np.testing.assert_allclose(space.ease.inverse, retrained.inverse, rtol=0, atol=1e-12)


def test_the_toy_worlds_weights_are_written_in_their_cells(toy_ease):
    """G's counts were written in the toy's cells and B's signed weights were not ("-0.12" did not fit 32 px)."""
    from amnesia.dashboard.figures import update_figure

    entry = EaseWorkspace(*toy_ease).forget_user(0)
    b = update_figure(entry.before, entry.after, entry.label).data[3]
    written = [text for row in b.text for text in row if text]
    assert written and all(float(text) == pytest.approx(value, abs=0.005) for text, value in
                           zip(written, [v for row in entry.after.similarities.tolist() for v in row if v != 0]))


def test_an_ease_window_puts_only_the_scored_movies_of_a_change_first(movielens_ease):
    """Workspace's own-movies-first (for item-CF) had put EASE's unscored movies 18 and 40 first: rows and
    columns of B that are 0 before and after. EASE's ranking puts the scored ones first itself."""
    space = EaseWorkspace(*movielens_ease)
    entry = space.add_user("Maya", items=[1, 260, 40, 18])
    scored = set(space.base_ease.items_scored.tolist())
    assert {1, 260} <= scored and not {18, 40} & scored
    assert sorted(entry.after.items[:2]) == [1, 260] and not {18, 40} & set(entry.after.items)
    assert entry.after.description.startswith("A focus window: the 20 movies, the first 2 of them this change's own, then "
                                              "those whose weights it moved most")
