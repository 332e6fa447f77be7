"""Figure builders: pure functions of windows; frames, fixed colour scales, marks, labels, size."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import plotly.graph_objects as go
import pytest

from plotly.subplots import make_subplots

from amnesia.dashboard.figures import STAGES, _subplots, delta_figure, state_figure, update_figure
from amnesia.dashboard.views import axis_title, item_labels, short_name, short_names, short_title, window_csv
from amnesia.dashboard.workspace import Workspace, shared_base
from amnesia.data.catalog import display_title, split_year


@pytest.fixture(scope="module")
def toy():
    return shared_base("toy")


@pytest.fixture(scope="module")
def forget_alice(toy):
    return Workspace(*toy).forget_user(0)


def test_the_toy_worlds_similarities_are_written_in_their_cells(forget_alice):
    """C's counts were written in the toy's cells and S's values were not (26 px left no room for
    "0.33"): a teacher reads both off the slide."""
    figure = update_figure(forget_alice.before, forget_alice.after, "Forgot Alice")
    c, s = figure.data[2], figure.data[3]
    assert [row[:4] for row in c.text[:4]] == [["1", "1", "", "1"], ["1", "3", "1", "2"], ["", "1", "1", ""], ["1", "2", "", "2"]]
    assert [row[:4] for row in s.text[:4]] == [["1.00", "0.33", "", "0.50"], ["0.33", "1.00", "0.33", "0.67"],
                                               ["", "0.33", "1.00", ""], ["0.50", "0.67", "", "1.00"]]


def test_update_figure_has_five_stages_and_play_controls(forget_alice):
    figure = update_figure(forget_alice.before, forget_alice.after, "Forgot Alice")
    assert [frame.name for frame in figure.frames] == list(STAGES)
    assert figure.layout.updatemenus[0].buttons[0].label == "▶ Play"
    assert figure.layout.updatemenus[0].buttons[0].args[1]["frame"]["redraw"] is True  # heatmaps only animate with redraw
    assert [step.label for step in figure.layout.sliders[0].steps] == ["before", "H", "n", "C", "S"]
    assert figure.layout.sliders[0].active == 4
    for frame in figure.frames:  # every frame trace names its subplot's axes
        assert [(t.xaxis, t.yaxis) for t in frame.data] == [(t.xaxis, t.yaxis) for t in figure.data]


def test_the_right_heatmap_names_no_rows_and_draws_no_bare_ticks(forget_alice):
    """S (or B) shares its rows with C beside it: no names, and no tick dashes without a name
    (Streamlit's template draws ticks outside)."""
    layout = update_figure(forget_alice.before, forget_alice.after, "x").layout
    assert (layout.yaxis4.showticklabels, layout.yaxis4.ticks) == (False, "")
    assert layout.yaxis3.showticklabels is not False


def test_frames_carry_only_what_changes(forget_alice):
    figure = update_figure(forget_alice.before, forget_alice.after, "x")
    heatmap = figure.frames[0].data[0].to_plotly_json()
    assert set(heatmap) == {"type", "z", "xaxis", "yaxis"}  # H has no cell text; labels and hovers stay in the data
    assert figure.data[0].customdata is not None and figure.frames[3].data[2].customdata is None


def test_stages_change_one_matrix_at_a_time(forget_alice):
    before, after = forget_alice.before, forget_alice.after
    frames = update_figure(before, after, "x").frames
    h, n, c, s = 0, 1, 2, 3
    assert [list(row) for row in frames[0].data[h].z] == before.history.tolist()
    assert [list(row) for row in frames[1].data[h].z] == after.history.tolist()
    assert [list(row) for row in frames[1].data[c].z] == before.cooccurrences.tolist()
    assert list(frames[2].data[n].y) == after.counts.tolist() and list(frames[1].data[n].y) == before.counts.tolist()
    assert [list(row) for row in frames[3].data[c].z] == after.cooccurrences.tolist()
    assert [list(row) for row in frames[3].data[s].z] == before.similarities.tolist()
    assert [list(row) for row in frames[4].data[s].z] == after.similarities.tolist()


def test_colour_scales_are_fixed_and_ignore_the_diagonal(forget_alice):
    figure = update_figure(forget_alice.before, forget_alice.after, "x")
    c, s = figure.data[2], figure.data[3]
    assert c.zmax == 2  # the largest C off the diagonal, before or after (C_aa = n_a would wash the rest out)
    assert s.zmax == pytest.approx(2 / 3)  # The Matrix and The Godfather after Alice left: 2 / (3 + 2 - 2)


def test_a_world_without_users_keeps_a_readable_scale(toy):
    """Every user forgotten, S is 0 everywhere: its scale ran from 0 to 1e-9, and the Change log's
    colour bar read "0, 0.2n, 0.4n … 1n"."""
    space = Workspace(*toy)
    for user in range(4):
        entry = space.forget_user(user)
    s = update_figure(entry.before, entry.after, "x").data[3]
    assert s.zmax == 1.0  # the frame before the last forget: Dev alone, so his movies' S is 1
    empty = state_figure(entry.after, "now").data[3]
    assert empty.zmax == 1.0 and not np.asarray(empty.z).any()


def test_changed_cells_are_marked(forget_alice):
    frames = update_figure(forget_alice.before, forget_alice.after, "x").frames
    h_marks = frames[1].data[4]
    assert list(h_marks.y) == ["Alice"] * 4 and list(h_marks.x) == ["Toy Story", "The Matrix", "Titanic", "Finding Nemo"]
    assert list(h_marks.customdata[0]) == ["Alice", "Toy Story (1995) · #0", 1.0, 0.0, -1.0]
    assert len(frames[0].data[4].x) == 0  # nothing marked before the change
    assert len(frames[3].data[5].x) == 16  # Alice's 4 movies: 4 x 4 cells of C moved by one
    bars = frames[2].data[1]
    assert list(bars.text) == ["2→1", "4→3", "2→1", "", "1→0"]


def test_change_marks_fit_their_cells_in_the_narrowest_column(forget_alice):
    """The marks are fixed-size squares on cells that stretch with the column: at a 1,024 px window
    (a 564 px main column) the toy world's cells are 28.9 px wide (measured in the browser), and
    marks sized for the 700 px layout were 33 px, covering their neighbours' numbers."""
    spec = update_figure(forget_alice.before, forget_alice.after, "x").to_dict()
    layout = spec["layout"]
    width = 564 - layout["margin"]["l"] - layout["margin"]["r"]  # the plot area at a 1,024 px window
    across = width * (layout["xaxis3"]["domain"][1] - layout["xaxis3"]["domain"][0]) / len(forget_alice.after.items)
    sizes = [trace["marker"]["size"] for trace in spec["data"] if trace.get("marker", {}).get("symbol") == "square-open"]
    assert len(sizes) == 3 and len(set(sizes)) == 1 and across - 4 < sizes[0] <= across - 3  # on H, C and S
    assert "title" not in layout["yaxis2"]  # n's "n" overprinted H's colour bar there


def test_panel_titles_count_the_changed_cells(forget_alice):
    titles = [a.text for a in update_figure(forget_alice.before, forget_alice.after, "x").layout.annotations]
    assert [t.split("<br>")[1] for t in titles] == [
        "<span style='font-size:11px'>4 of 20 cells changed</span>",
        "<span style='font-size:11px'>4 of 5 bars changed</span>",
        "<span style='font-size:11px'>16 of 25 cells changed</span>",
        "<span style='font-size:11px'>17 of 25 cells changed</span>",  # Finding Nemo's S_aa too: 1 -> 0
    ]


def test_delta_figure_shows_values_and_before_after_in_the_hover(forget_alice):
    figure = delta_figure(forget_alice.before, forget_alice.after)
    delta_c, delta_s = figure.data
    assert delta_c.zmid == 0 and delta_c.colorscale[0][1] != delta_c.colorscale[-1][1]  # diverging
    assert [list(row) for row in delta_c.z][1] == [-1.0, -1.0, -1.0, 0.0, -1.0]  # The Matrix's row
    assert delta_c.text[1] == ["−1", "−1", "−1", "", "−1"]
    assert delta_s.text[0][1] == "−0.17"  # Toy Story ↔ The Matrix: 2 / (2 + 4 - 2) -> 1 / (1 + 3 - 1)
    hover = delta_s.customdata[0][1]
    assert hover[:2] == ["Toy Story (1995) · #0", "The Matrix (1999) · #1"]
    assert hover[2] == pytest.approx(0.5) and hover[3] == pytest.approx(1 / 3)
    assert [a.text for a in figure.layout.annotations] == ["ΔC: change in co-occurrences", "ΔS: change in similarity"]


def test_labels_are_short_unique_and_text_is_escaped(toy):
    assert short_title("Lord of the Rings: The Fellowship of the Ring, The (2001)") == "Fellowship of the Ring"
    assert short_title("Harry Potter and the Chamber of Secrets (2002)") == "Harry Potter…Secrets"
    assert short_title("Harry Potter and the Deathly Hallows: Part 1 (2010)") == "Harry Potter…Part 1"  # not just "Part 1"
    assert short_title("Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)") == "Amelie"
    assert short_title("Birdman: Or (The Unexpected Virtue of Ignorance) (2014)") == "Birdman"  # not "Birdman: Or"
    assert short_title("Let Me In (2010)") == "Let Me In"
    data, _ = toy
    assert item_labels(data.catalog, [0, 1]) == ["Toy Story", "The Matrix"]
    space = Workspace(*toy)
    entry = space.add_user("<b>Bo</b> <a href='x'>", typed="titanic")
    text = json.dumps(update_figure(entry.before, entry.after, entry.label).to_plotly_json(), ensure_ascii=False)
    assert "<b>Bo</b>" not in text and "<a href" not in text
    assert "&lt;b&gt;Bo&lt;/b&gt; &lt;a href='x'&gt;" in text


def test_a_long_name_is_shortened_on_the_axis_and_whole_in_the_hover(toy):
    """A 60-character name had widened the left margin to 432 px, shrinking the four heatmaps."""
    long_name = "Maximiliana Wilhelmina Francesca von Hohenzollern-Sigmarin"
    short = Workspace(*toy).add_user("Ana", typed="titanic\nthe godfather")
    named = Workspace(*toy).add_user(long_name, typed="titanic\nthe godfather")
    a, b = (update_figure(e.before, e.after, "Added") for e in (short, named))
    assert (a.layout.margin.l, b.layout.margin.l) == (103, 166)  # 22 characters at most: it was 418 px
    assert list(b.layout.yaxis.ticktext) == ["Alice", "Bob", "Carla", "Dev", "Maximiliana Wilhelmin…"]
    assert list(b.layout.yaxis.tickvals) == list(b.data[0].y) == ["Alice", "Bob", "Carla", "Dev", long_name]


FAMILY = "\U0001F469\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466"  # four emoji joined: drawn as one


@pytest.mark.parametrize(("name", "axis"), [
    ("Ana " + "x" * 14 + FAMILY + " and friends", "Ana " + "x" * 14 + "…"),  # the family would start at 18, end at 25
    ("Jose" + "e\u0301" * 20, "Jose" + "e\u0301" * 8 + "…"),  # a decomposed accent stays with its e
    ("Franc " + "\U0001F1EB\U0001F1F7" * 9, "Franc " + "\U0001F1EB\U0001F1F7" * 7 + "…"),  # a flag is two letters
    ("Ola " + "\U0001F44D\U0001F3FD" * 12, "Ola " + "\U0001F44D\U0001F3FD" * 8 + "…"),  # a thumb keeps its skin tone
    ("Maximiliana Wilhelmina Francesca", "Maximiliana Wilhelmin…"),
])
def test_a_name_is_cut_between_drawn_characters(name, axis):
    assert short_name(name) == axis


def test_two_long_names_that_would_read_the_same_show_their_ends():
    names = ["Maximiliana Wilhelmina A", "Maximiliana Wilhelmina B", "Bob", "Ana " + "x" * 14 + FAMILY + " and Bo"]
    assert short_names(names) == ["Maximiliana…lhelmina A", "Maximiliana…lhelmina B", "Bob", "Ana " + "x" * 14 + "…"]
    # names as a visitor can store them (joiners are cleaned out of names; flags and skin tones stay): the end
    # starts at a flag, not at its second letter, which would have paired every later letter wrongly
    flags = "\U0001F1EB\U0001F1F7\U0001F1E9\U0001F1EA\U0001F1EE\U0001F1F9\U0001F1EA\U0001F1F8\U0001F1F5\U0001F1F9"
    assert short_names(["Maximiliana Wilhelmina " + flags + "1", "Maximiliana Wilhelmina " + flags + "2"]) == [
        "Maximiliana…" + flags[2:] + "1", "Maximiliana…" + flags[2:] + "2"]
    # names that still read the same get their user's id
    twins = ["Maximiliana Wilhelmina X Francesca", "Maximiliana Wilhelmina Y Francesca"]
    assert short_names(twins) == ["Maximiliana…Francesca"] * 2
    assert short_names(twins, ids=[12, 13]) == ["Maximiliana Wilhe… #12", "Maximiliana Wilhe… #13"]
    # the end would start inside the family: it starts after it (the family is left out whole, not split)
    assert short_names(["Ana " + "x" * 14 + FAMILY + " and Bo", "Ana " + "x" * 14 + FAMILY + " and Al"]) == [
        "Ana xxxxxxx…and Bo", "Ana xxxxxxx…and Al"]


def test_state_figure_and_csv(forget_alice):
    figure = state_figure(forget_alice.after, "now")
    assert isinstance(figure, go.Figure) and not figure.frames and len(figure.data) == 4
    csv = window_csv(forget_alice.after).splitlines()
    assert csv[0] == "item_a,item_b,title_a,title_b,cooccurrences,similarity"
    assert "1,0,The Matrix (1999),Toy Story (1995),1,0.3333333333333333" in csv
    assert len(csv) == 1 + 10


def test_before_and_after_must_match(forget_alice, toy):
    other = Workspace(*toy).add_user("Z", typed="titanic")
    with pytest.raises(ValueError, match="same users and items"):
        update_figure(forget_alice.before, other.after, "x")


def test_an_axis_label_never_reads_as_another_movie():
    """A presenter's pass: Il Postino was labelled "The Postman", the title of Kevin Costner's 1997
    film in the same catalogue, and Dodgeball "True Underdog Story"; a review: a main title must
    not be the start of another film's title ("Bridget Jones" of Bridget Jones's Diary)."""
    catalog = shared_base("movielens-small")[0].catalog
    by_title = {movie.title: movie.id for movie in catalog.movies()}

    def label(title):
        return axis_title(catalog, by_title[title])

    assert label("Postman, The (Postino, Il) (1994)") == "The Postman (1994)"
    assert label("Postman, The (1997)") == "The Postman"  # its whole title: no shorter form to mistake
    assert label("Dodgeball: A True Underdog Story (2004)") == "Dodgeball"  # the main title, when no other film has it
    assert label("Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb (1964)") == "Dr. Strangelove"
    assert label("Lost World: Jurassic Park, The (1997)") == "The Lost World"  # not "Jurassic Park", the 1993 film
    assert label("Lord of the Rings: The Two Towers, The (2002)") == "Two Towers"  # a series' films keep their subtitles
    assert label("Star Wars: Episode IV - A New Hope (1977)") == "New Hope"
    assert label("Bridget Jones: The Edge of Reason (2004)") == "Edge of Reason"  # Bridget Jones's Diary starts so
    assert label("Percy Jackson: Sea of Monsters (2013)") == "Sea of Monsters"
    assert label("Urban Legends: Final Cut (2000)") == "Final Cut (2000)"  # "Urban Legend" is a 1998 film
    assert label("2010: The Year We Make Contact (1984)") == "Year We Make Contact"  # not a number alone
    assert label("Men in Black (a.k.a. MIB) (1997)") == "Men in Black"  # its own title, as "Toy Story" is
    assert label("Harry Potter and the Chamber of Secrets (2002)") == "Harry Potter…Secrets"  # reads as cut
    assert item_labels(catalog, [by_title["Postman, The (Postino, Il) (1994)"], by_title["Postman, The (1997)"]]) == [
        "The Postman (1994)", "The Postman"]
    # over the whole catalogue: a main title names no other film; another short form does only with its year, when
    # it is the film's own title without its alternatives, or when it reads as cut
    for movie in catalog.movies():
        shown = axis_title(catalog, movie.id)
        base, year = split_year(display_title(movie.title))
        if shown == base or year is None or shown.endswith(f"({year})") or "…" in shown:
            continue
        if shown != short_title(movie.title):
            assert not catalog.names_another(shown, movie.id, starts=True), (movie.title, shown)
        else:
            own = re.sub(r"\s*\([^()]*\)", "", base).strip()
            assert not catalog.names_another(shown, movie.id, series=shown != own), (movie.title, shown)


def test_movielens_figures_stay_small():
    space = Workspace(*shared_base("movielens-small"))
    space.forget_user(414)  # the heaviest user
    before, after = space.latest_windows()
    assert len(update_figure(before, after, "x").to_json()) <= 400_000
    assert len(delta_figure(before, after).to_json()) <= 200_000
    assert len(state_figure(space.current_window()).to_json()) <= 200_000
    assert np.all(np.diff([len(label) for label in after.item_labels]) < 25)


@pytest.mark.parametrize("shape", [(2, 2, 0.2, 0.3, [0.3, 0.7]), (2, 1, 0.0, 0.25, None)])
def test_the_grid_is_laid_out_as_make_subplots_would(shape):
    rows, cols, horizontal, vertical, heights = shape
    titles = [f"t{k}" for k in range(rows * cols)]
    theirs = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=horizontal or None,
                           vertical_spacing=vertical, row_heights=heights).to_dict()["layout"]
    theirs.pop("template")
    ours = _subplots(titles, rows, cols, horizontal, vertical, heights)
    assert set(ours) == set(theirs)
    for name, axis in theirs.items():
        if name == "annotations":
            for a, b in zip(ours[name], axis):
                assert {k: v for k, v in a.items() if k not in "xy"} == {k: v for k, v in b.items() if k not in "xy"}
                assert (a["x"], a["y"]) == pytest.approx((b["x"], b["y"]))
        else:
            assert axis["anchor"] == ours[name]["anchor"] and ours[name]["domain"] == pytest.approx(axis["domain"])


def test_every_figure_is_valid_plotly_although_built_without_validation(forget_alice):
    """The figures skip Plotly's per-property validation (it cost most of a click's server time):
    validating each one afterwards changes nothing and raises nothing."""
    before, after = forget_alice.before, forget_alice.after
    for figure in (update_figure(before, after, "Forgot <b>Alice</b>"), state_figure(after), delta_figure(before, after)):
        spec = figure.to_dict()
        assert go.Figure(spec).to_dict() == spec


def test_changes_show_enough_digits_and_never_minus_zero():
    from amnesia.dashboard.views import before_after, digits_to_show, signed

    assert before_after(0.7612, 0.7598) == "0.7612 → 0.7598 (−0.0014)"  # "0.76 → 0.76" read as no change
    assert before_after(0.41, 0.38) == "0.41 → 0.38 (−0.03)"
    assert before_after(0.5, 0.5) == "0.50 → 0.50 (±0)"
    # the change is the shown endpoints' difference (rounded apart, "0.35 → 0.38 (+0.02)" did not add up), with
    # the decimals that keep it within a tenth of the true change (at two, "+0.03" for +0.0202)
    assert before_after(0.3549, 0.3751) == "0.355 → 0.375 (+0.020)"
    # a presenter's add and forget of one user: "0.02 → 0.04 (+0.02)" for +0.0112, then "0.04 → 0.02 (−0.02)"
    assert (before_after(0.0247, 0.0359), before_after(0.0359, 0.0247)) == ("0.025 → 0.036 (+0.011)",
                                                                          "0.036 → 0.025 (−0.011)")
    assert before_after(0.1956427, 0.1956421) == "0.195643 → 0.195642 (−0.000001)"
    assert before_after(0.19564255, 0.19564253) == "0.195643 → 0.195643 (−2e−08)"  # below six decimals
    assert signed(-0.0004) == "−0.0004" and signed(0.031) == "+0.03" and signed(0.0) == ""
    assert signed(-3e-9) == "−3e-09"  # below six decimals: still not "−0.000000"
    assert signed(-2.0, 0) == "−2" and digits_to_show(0.123456789, 0.123456788) == 6


def test_a_ranked_list_of_changes_reads_in_its_order_ties_aside():
    from amnesia.dashboard.views import list_digits

    # each change shown is the difference of the rounded ends: at 3 decimals −0.0086 reads −0.008 above a −0.0085
    # that reads −0.009, and the list looked unsorted; a fourth decimal orders them
    pairs = [(0.0104, 0.0018), (0.0106, 0.0021)]
    assert list_digits(pairs) == 3 and list_digits(pairs, ranked=True) == 4
    # two equal changes cannot be ordered by more decimals: they stay at what each line needs (not six)
    assert list_digits([(1 / 2, 1 / 6), (2 / 3, 1 / 3)], ranked=True) == list_digits([(1 / 2, 1 / 6), (2 / 3, 1 / 3)]) == 2


def test_a_ranked_lists_marks_are_explained_over_it():
    from amnesia.dashboard.views import md, rank_moves, ranked_list, ranked_list_caption

    data, model = shared_base("toy")
    catalog = data.catalog
    entries = [(item, 1.0 - k / 10) for k, item in enumerate(model.items()[:3])]
    titles = [md(catalog.title(item)) for item, _ in entries]  # escaped for Markdown: Toy Story \(1995\)
    struck = ranked_list(catalog, entries, struck={entries[1][0]})
    assert struck.splitlines() == [f"1. {titles[0]} · 1.000", f"2. ~~{titles[1]}~~ · 0.900", f"3. {titles[2]} · 0.800"]
    assert ranked_list_caption(False, True, 5) == "Before forgetting · ~~crossed out~~: not in the top 5 after"
    assert ranked_list_caption(True, True, 5) == "After forgetting · **bold**: new in the top 5"
    assert (ranked_list_caption(False, False, 5), ranked_list_caption(True, False, 5)) == ("Before forgetting",
                                                                                           "After forgetting")
    # a list only reordered: each moved item says by how many places (it had no mark at all)
    reordered = [entries[2], entries[0], entries[1]]
    assert ranked_list(catalog, reordered, moves=rank_moves(entries, reordered)).splitlines() == [
        f"1. {titles[2]} · 0.800 · ↑ 2", f"2. {titles[0]} · 1.000 · ↓ 1", f"3. {titles[1]} · 0.900 · ↓ 1"]
    assert rank_moves(entries, reordered) == {entries[2][0]: 2, entries[0][0]: -1, entries[1][0]: -1}
    assert rank_moves(entries, entries) == {}
    # one left, one entered: the others kept their order among themselves, so no marks (a review)
    assert rank_moves(entries, [entries[0], entries[2]]) == {}
    newcomer = (model.items()[3], 1.5)
    assert rank_moves(entries, [newcomer, *entries]) == {}
    assert "↓" not in ranked_list(catalog, [newcomer, *entries], bold={newcomer[0]},
                                  moves=rank_moves(entries, [newcomer, *entries]))
    assert ranked_list_caption(True, False, 5, moved=True) == "After forgetting · ↑ ↓: places moved"


def test_charts_are_projector_ready(forget_alice):
    """12 px dark axis labels, and a colour scale saying what the colour means on every heatmap."""
    figures = (update_figure(forget_alice.before, forget_alice.after, "x"), state_figure(forget_alice.after),
               delta_figure(forget_alice.before, forget_alice.after))
    for figure in figures:
        layout = figure.to_dict()["layout"]
        for name, axis in layout.items():
            if name[1:].startswith("axis") and "tickfont" in axis:
                assert axis["tickfont"]["size"] >= 12 and axis["tickfont"]["color"] == "#1f1f1f", name
        # the panels' titles as dark (the theme's grey was 3.7 : 1 on white, faint on a projector)
        assert layout["annotations"] and all(a["font"]["color"] == "#1f1f1f" and a["font"]["size"] == 16
                                             for a in layout["annotations"]), layout["annotations"]
        heatmaps = [trace for trace in figure.data if trace.type == "heatmap"]
        assert heatmaps and all(trace.showscale and trace.colorbar.title.text for trace in heatmaps)
    titles = [trace.colorbar.title.text for trace in figures[0].data if trace.type == "heatmap"]
    assert titles == ["watched", "C (people)", "S"]
    # C's and S's scales leave out the diagonal (n, and 1): their top says that it and more share its colour
    # (C's scale stopped at "2" beside a diagonal cell reading 4, S's at 0.5 beside 1.00)
    for figure in figures[:2]:
        c, s = [trace for trace in figure.data if trace.type == "heatmap"][1:3]
        assert np.max(c.z) > c.zmax == 2 and list(c.colorbar.tickvals) == [0, 1, 2]
        assert list(c.colorbar.ticktext) == ["0", "1", "2+"]
        assert np.max(s.z) == 1.0 > s.zmax and s.colorbar.tickvals[-1] == s.zmax
        assert s.colorbar.ticktext[-1] == f"{s.zmax:.2f}+" and s.colorbar.ticktext[0] == "0.00"
    assert [trace.colorbar.title.text for trace in figures[2].data] == ["ΔC (red −, blue +)", "ΔS (red −, blue +)"]


def test_a_prepared_spec_reaches_the_browser_exactly_as_the_figure_would(forget_alice):
    """The page hands st.plotly_chart a Prepared spec (no per-frame copies); Streamlit must send the
    same JSON it sent for the figure built from the spec."""
    import plotly.io
    import plotly.tools

    from amnesia.dashboard.figures import Prepared, update_spec

    spec = update_spec(forget_alice.before, forget_alice.after, "Forgot Alice")
    sent = plotly.tools.return_figure_from_figure_or_data(Prepared(spec), validate_figure=True)  # what Streamlit does
    assert Prepared(spec).spec is spec
    wrapped = plotly.tools.return_figure_from_figure_or_data(go.Figure(spec, _validate=False), validate_figure=True)
    # what the page sent before (in another key order), with the same template
    assert json.loads(plotly.io.to_json(sent, validate=False)) == json.loads(plotly.io.to_json(wrapped, validate=False))
    assert sent["layout"]["template"] == wrapped["layout"]["template"] and sent["data"] is spec["data"]


def test_every_movie_is_named_below_the_columns_and_the_changed_ones_in_bold():
    """The x axes named every other movie (a step fixed for the narrowest layout): one of three movies a
    visitor had just added went unnamed at 1,920 px, where every name fits. Every movie is named now, the
    ones a change touched in bold, and the browser hides names that would touch, bold ones last
    (tests/e2e/test_keyboard.py measures that)."""
    from amnesia.dashboard.figures import _x_tick_text

    assert _x_tick_text(["A", "B", "C", "D"], [1, 3]) == ["A", "<b>B</b>", "C", "<b>D</b>"]
    assert _x_tick_text(["A &amp; B"], []) == ["A &amp; B"]  # already escaped text stays as it is

    space = Workspace(*shared_base("movielens-small"))
    space.add_user("Maya", [1, 2571, 6, 1214])  # Toy Story, The Matrix, Heat, Alien
    before, after = space.latest_windows()
    touched = {after.items.index(item) for item in (1, 2571, 6, 1214)}
    layout = update_figure(before, after, "x").layout
    for axis in (layout.xaxis, layout.xaxis2, layout.xaxis3, layout.xaxis4):
        assert axis.tickmode == "array" and [html.unescape(v) for v in axis.tickvals] == list(after.item_labels)
        bold = {p for p, text in enumerate(axis.ticktext) if text.startswith("<b>")}
        assert bold == touched


def test_a_past_state_names_the_movies_its_change_touched():
    """The Change log's model at a past time named every other movie, and the one its change touched
    (Toy Story, the tallest bar, second in the window) went unnamed between two names."""
    space = Workspace(*shared_base("movielens-small"))
    space.apply_json(json.dumps({"change": "Add", "interactions": [[999_999, 1]]}))  # Toy Story
    window, entry = space.history.window_at(space.history.start + 1)
    toy_story = window.items.index(1)

    def bold(figure: go.Figure, axis: str) -> list[int]:
        return [p for p, text in enumerate(figure.layout[axis].ticktext) if text.startswith("<b>")]

    for axis in ("xaxis", "xaxis2", "xaxis3", "xaxis4"):
        assert bold(state_figure(window, "x", "Jaccard", entry.before), axis) == [toy_story]
    assert bold(state_figure(window, "x"), "xaxis") == []  # without the change's window: nothing stands out


def test_the_step_slider_starts_right_of_play_and_pause(forget_alice):
    """The buttons end where the slider starts, and in the narrowest column (1,024 px window) they fit in
    the figure and leave the slider room for all five stage names (Plotly drops every other name when a
    name and its padding, ~43 px for "before", is wider than a step). Placed for the 700 px layout, at
    1,024 px the "before" grip sat under ❚❚ Pause and "H" and "C" were dropped."""
    from amnesia.dashboard.figures import _BUTTONS_PX, _NARROWEST, _WIDTH

    space = Workspace(*shared_base("movielens-small"))
    space.forget_user(414)
    for before, after in ((forget_alice.before, forget_alice.after), space.latest_windows()):
        layout = update_figure(before, after, "x").layout
        slider, menu = layout.sliders[0], layout.updatemenus[0]
        assert menu.xanchor == "right" and menu.x == slider.x and slider.x + slider.len == 1
        for width in (_NARROWEST, _WIDTH, 1500):
            plot_px = width - layout.margin.l - layout.margin.r
            assert layout.margin.l + slider.x * plot_px >= _BUTTONS_PX  # the buttons' left edge inside the figure
            assert slider.len * plot_px >= 4 * 50 + 40  # four steps of 50 px and the rail's insets


def test_every_stage_of_play_draws_its_own_numbers_and_whole_bars(forget_alice):
    """Play's "before" showed the after state's numbers over the old colours when the old "10" did not
    fit a cell but the new "9" did (a frame without text keeps the text drawn before it), and its bars
    were cut at the after state's autorange (n = 10 drawn at about 9.5 after User 414 was forgotten)."""
    from amnesia.dashboard.figures import update_spec

    space = Workspace(*shared_base("movielens-small"))
    space.forget_user(414)
    for before, after in ((forget_alice.before, forget_alice.after), space.latest_windows()):
        spec = update_spec(before, after, "x")
        for trace in (2, 3):  # C and S
            drawn = [frame["data"][trace].get("text") for frame in spec["frames"]]
            assert all(text is None for text in drawn) or all(text is not None for text in drawn)
            for frame in spec["frames"]:
                text, z = frame["data"][trace].get("text"), frame["data"][trace]["z"]
                if text is not None:  # what is written is the frame's own value
                    assert [[cell == "" or float(cell) == pytest.approx(value, abs=0.005) for cell, value in zip(*rows)]
                            for rows in zip(text, z)] == [[True] * len(row) for row in z]
        top = spec["layout"]["yaxis2"]["range"][1]
        assert spec["layout"]["yaxis2"]["autorange"] is False
        assert top >= 1.2 * max(max(before.counts), max(after.counts))
    assert max(before.counts) == 10 and max(after.counts) == 9  # the MovieLens case: the bars a forget lowered
    drawn_c = [frame["data"][2].get("text") for frame in spec["frames"]]
    assert drawn_c == [None] * 5  # "10" does not fit its cell: no stage writes numbers
