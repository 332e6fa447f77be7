"""Plotly figures of the model: pure functions from windows of state to ``go.Figure``.

Each figure is written as a plain dict spec (traces, frames and a layout whose subplot grid is
computed here) and wrapped without Plotly's per-property validation: validating the animated
figure cost ~90 ms of every change on MovieLens, most of a click's server time. The tests check
that every spec passes Plotly's validation unchanged.

- :func:`update_figure` animates one change the way the original Amnesia demo did, in five
  stages: before -> H changes -> n -> C -> S. Changed cells are outlined; colour scales are
  fixed across frames so colours mean the same in every frame.
- :func:`state_figure` shows a window as it is.
- :func:`delta_figure` shows what changed: ΔC and ΔS as diverging heatmaps with their values.

Every axis is labelled with short titles (full titles and ids in the hover); the layout is
computed in pixels from the labels, so nothing overlaps or is clipped at 1400 px wide. User
text (names) and titles are HTML-escaped: Plotly renders a subset of HTML in labels and
hovers, and a name must never become a link. Nothing here reads a model or Streamlit: same
windows in, same figure out, so the app can rebuild figures without restarting animations.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

import numpy as np
import plotly.graph_objects as go
from plotly.colors import get_colorscale

from .views import ITEM_CF, Matrices, Window, short_names, signed, window_delta


def stages(matrices: Matrices) -> tuple[str, ...]:
    """The animation's frame names: before, then H, n and the window's two item matrices
    (:data:`STAGES` for item-CF; "3 · G changes", "4 · B changes" for EASE)."""
    return ("before", "1 · H changes", "2 · n changes", f"3 · {matrices.pair} changes", f"4 · {matrices.weight} changes")


def _weights_range(before: Window, after: Window) -> float:
    """The largest weight off the diagonal of either window (its absolute value when weights can be
    negative), so colours mean the same in every frame; 1 when every one is 0 (a world whose users
    were all forgotten: a scale of 0 to 1e-9 read "0, 0.2n, 0.4n … 1n")."""
    values = [before.similarities, after.similarities]
    if after.matrices.signed:
        values = [np.abs(v) for v in values]
    largest = max(_off_diagonal_max(v) for v in values)
    return float(largest) if largest > 0 else 1.0

#: The item-CF animation's frame names.
STAGES = stages(ITEM_CF)
_CHANGED = "#d62728"
_TEXT_LIMIT = 12  # write values into cells only while they stay readable (items per axis)
_MARKS_SHARE = 0.5  # in a big window, outline changed cells only when at most this share changed (titles count them)
_PANELS = ("H: who watched what", "n: how many watched each movie")
_CELL = 36  # pixels per heatmap row, at most (rows are about as tall as the cells are wide); 36 writes S's "0.33" and EASE's "-0.12" in a small world's cells (26 left the toy's S and B without numbers beside C's)
_MIN_CELL = 15
_CHAR = 7.0  # pixels per label character at the tick font size
_FONT = 13
_TICKS = {"size": 12, "color": "#1f1f1f"}  # projector-ready: 12 px, dark (Plotly's default is a light grey)
_BAR = 80  # pixels beside a heatmap for its colour scale (bar and tick labels)
#: Plotly's options for the dashboard's heatmaps (``st.plotly_chart(config=...)``): its toolbar keeps
#: the picture download and the reset of a zoom (a drag still zooms). With all nine buttons it
#: covered the end of a long chart title whenever the pointer was over the chart: at a 1,024 px window
#: zoomed to 125 %, "…blue = increased" under the camera (a presenter's pass). Hover, a chart's only
#: reading tool here, needs none of the others.
CHART_CONFIG = {"displaylogo": False,
                "modeBarButtonsToRemove": ["zoom2d", "pan2d", "select2d", "lasso2d", "zoomIn2d", "zoomOut2d",
                                           "autoScale2d"]}
_CELL_FONT = 10
#: pixels between the two columns: the left panels' colour scales and the n axis (S shares C's row labels)
_MIDDLE = _BAR + 45
_BUTTONS_PX = 175  # ▶ Play and ❚❚ Pause side by side (~141 px) and their 12 px gap before the slider, with room to spare
_WIDTH = 700  # the main column the grid is laid out for; wider screens stretch it
_NARROWEST = 564  # the main column at a 1,024 px window with the sidebar open: the heatmaps' cells are narrowest there


#: colour scales as lists: plotly.js knows only some names (not "Purples"); validation used to expand them
_SCALES = {name: get_colorscale(name) for name in ("Blues", "Greens", "Purples", "RdBu")}


def _figure(spec: dict) -> go.Figure:
    """``spec`` as a figure, without validating each property again (see the module's docstring)."""
    return go.Figure(spec, _validate=False)


class Prepared(go.Figure):
    """A spec handed to ``st.plotly_chart`` as it is (``go.Figure(spec, _validate=False)`` still
    copies and checks every frame: ~40 ms for the animated MovieLens figure, where the spec takes
    2 ms). Streamlit reads a figure by its ``to_dict()`` and serialises that without validation,
    so this figure is empty but for its spec: read it with :attr:`spec` or ``to_dict()``, not
    ``.data``/``.frames``. ``to_dict()`` adds the default template, as a figure's would (Streamlit
    sets its own, whose placeholder colours the browser replaces by the page's theme). The tests
    check that Streamlit sends the same JSON as for the figure, and that every spec validates."""

    def __init__(self, spec: dict) -> None:
        super().__init__()
        self._prepared = spec

    @property
    def spec(self) -> dict:
        return self._prepared

    def to_dict(self) -> dict:
        return {**self._prepared, "layout": {**self._prepared.get("layout", {}), "template": _default_template()}}


def _default_template() -> dict:
    """Plotly's default template (Streamlit's, once Streamlit is imported) as a dict, built once per name."""
    import plotly.io as pio

    name = pio.templates.default
    if name not in _TEMPLATES:
        _TEMPLATES[name] = pio.templates[name].to_plotly_json()
    return _TEMPLATES[name]


_TEMPLATES: dict[str, dict] = {}


def _trace(**properties) -> dict:
    """A trace dict without the properties left unset (None): validation used to drop them."""
    return {name: value for name, value in properties.items() if value is not None}


def _dark_titles(layout: dict) -> dict:
    """Panel titles as dark as the ticks: the theme's grey was 3.7 : 1 on white, faint on a projector (a
    presenter's pass). ``layout`` from :func:`_subplots` (which stays as make_subplots lays it out)."""
    for annotation in layout["annotations"]:
        annotation["font"] = {**annotation.get("font", {}), "color": _TICKS["color"]}
    return layout


def _subplots(titles: list[str], rows: int, cols: int, horizontal: float, vertical: float,
              row_heights: list[float] | None = None) -> dict:
    """The layout of a ``rows`` x ``cols`` grid as ``plotly.subplots.make_subplots`` writes it: axes
    ``xaxis``, ``xaxis2``… row by row with their domains (paper coordinates), and one title
    annotation above each subplot."""
    heights = row_heights or [1 / rows] * rows
    width = (1 - horizontal * (cols - 1)) / cols
    free = 1 - vertical * (rows - 1)
    layout: dict = {"annotations": []}
    top = 1.0
    for row in range(rows):
        bottom = top - heights[row] * free
        for col in range(cols):
            k = row * cols + col + 1
            suffix = "" if k == 1 else str(k)
            left = col * (width + horizontal)
            layout[f"xaxis{suffix}"] = {"anchor": f"y{suffix}", "domain": [left, left + width]}
            # clipped: rounding must not put the lowest row a hair below 0 (Plotly refuses that)
            layout[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", "domain": [max(bottom, 0.0), min(top, 1.0)]}
            layout["annotations"].append({
                "font": {"size": 16}, "showarrow": False, "text": titles[k - 1], "x": left + width / 2,
                "xanchor": "center", "xref": "paper", "y": top, "yanchor": "bottom", "yref": "paper",
            })
        top = bottom - vertical
    return layout


def _update_axes(layout: dict, letter: str, **properties) -> None:
    """Set ``properties`` on every ``letter`` ("x" or "y") axis of ``layout``."""
    for name, axis in layout.items():
        if name.startswith(f"{letter}axis"):
            axis.update(properties)


def _text(values) -> list[str]:
    """Labels as plain text: Plotly would render tags such as <a href> in them."""
    return [html.escape(str(value), quote=False) for value in values]


def _label_px(labels) -> float:
    return _CHAR * max((len(str(label)) for label in labels), default=4) + 12


def _cells(z: np.ndarray, fmt: str) -> list[list[str]]:
    return [[("" if value == 0 else format(value, fmt)) for value in row] for row in np.asarray(z).tolist()]


def _fits(z: np.ndarray, fmt: str, cell: float) -> bool:
    """Whether every value written with ``fmt`` fits in a cell ``cell`` px wide (laid out for
    ``_WIDTH``, the narrowest main column) at the cell font."""
    longest = max((len(format(value, fmt)) for value in np.asarray(z).ravel().tolist()), default=1)
    return cell >= 0.62 * _CELL_FONT * longest + 4


def _fits_text(cells: list[list[str]], cell: float) -> bool:
    """Whether the longest of the written ``cells`` fits a cell ``cell`` px wide (see :func:`_fits`)."""
    longest = max((len(text) for row in cells for text in row), default=1)
    return cell >= 0.62 * _CELL_FONT * longest + 4


def _colorbar(layout: dict, axis: str, title: str, integer: float = 0, labels: dict | None = None,
              top: float | None = None) -> dict:
    """A colour scale beside the subplot of ``axis`` ("x3"): as tall as it, just right of it.
    ``top``: the scale's largest value when some cell holds more (the diagonal, C_aa = n_a and
    S_aa = 1, is left out of the range): its tick then reads "2+", the colour of it and above (a
    presenter's pass: C's scale stopped at 2 beside cells reading 4, S's at 0.5 beside 1.00)."""
    x_domain = layout[f"xaxis{axis[1:]}"]["domain"]
    y_domain = layout[f"yaxis{axis[1:]}"]["domain"]
    bar = {"title": {"text": title, "side": "right", "font": _TICKS}, "tickfont": _TICKS, "thickness": 12,
           "x": x_domain[1] + 0.01, "xanchor": "left", "y": sum(y_domain) / 2, "yanchor": "middle",
           "len": max(y_domain[1] - y_domain[0], 0.05), "lenmode": "fraction", "outlinewidth": 0}
    if labels:
        bar.update(tickmode="array", tickvals=list(labels), ticktext=list(labels.values()))
    elif top is not None:
        ticks = _scale_ticks(top, integer=bool(integer))
        text = [f"{value:d}" if integer else f"{value:.2f}" if top >= 0.1 else f"{value:.2g}" for value in ticks]
        bar.update(tickmode="array", tickvals=ticks, ticktext=[*text[:-1], f"{text[-1]}+"])
    elif integer:  # counts: whole-number ticks only (``integer`` is the scale's largest value)
        bar.update(tickformat="d", dtick=max(1, int(np.ceil(integer / 4))))
    return bar


def _scale_ticks(top: float, integer: bool) -> list:
    """Ticks from 0 to ``top`` (the last): a round step (1, 2, 2.5 or 5 times a power of ten, whole
    numbers for counts) giving at most 5 of them, and no tick within half a step below ``top`` (their
    labels would touch on a short scale)."""
    raw = top / 4
    power = 10.0 ** np.floor(np.log10(raw)) if raw > 0 else 1.0
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if integer:
        step = max(1, int(np.ceil(step)))
    below = [k * step for k in range(int(np.floor(top / step)) + 1) if k * step < top - step / 2]
    if integer:
        return [int(t) for t in below] + [int(top)]
    return [float(round(t, 10)) for t in below] + [float(top)]  # the top exactly: it is the scale's zmax


def _heatmap(
    z: np.ndarray, x, y, hover_x, hover_y, what: str, colorscale, zmax: float, fmt: str, show_text: bool, zmid: float | None = None,
    hover: bool = True,
) -> dict:
    z = np.asarray(z)
    # the hover titles of every cell (a list per cell): only the figure's own traces need them, frames never carry them
    custom = [[[hx, hy] for hx in hover_x] for hy in hover_y] if hover else None
    return _trace(
        type="heatmap",
        z=z.tolist(),  # plain lists: 2-D typed arrays did not render in every plotly.js
        x=list(x),
        y=list(y),
        zmin=-zmax if zmid is not None else 0,
        zmax=zmax,
        zmid=zmid,
        colorscale=_SCALES[colorscale],
        text=_cells(z, fmt) if show_text else None,
        texttemplate="%{text}" if show_text else None,
        textfont={"size": _CELL_FONT},
        customdata=custom,
        hovertemplate=f"<b>%{{customdata[1]}}</b><br><b>%{{customdata[0]}}</b><br>{what} = %{{z:{fmt}}}<extra></extra>",
        xgap=1,
        ygap=1,
    )


def _marks(before: np.ndarray, after: np.ndarray, x, y, hover_x, hover_y, what: str, fmt: str, size: float) -> dict:
    """Outlined markers on the cells whose value changed; old -> new in the hover."""
    rows, cols = np.nonzero(~np.isclose(before, after, rtol=0, atol=1e-12))
    delta = after[rows, cols] - before[rows, cols]
    return dict(
        type="scatter",
        x=[x[c] for c in cols],
        y=[y[r] for r in rows],
        mode="markers",
        marker={"symbol": "square-open", "size": size, "color": _CHANGED, "line": {"width": 1.5}},
        customdata=[[hover_y[r], hover_x[c], b, a, d] for r, c, b, a, d in zip(rows.tolist(), cols.tolist(), before[rows, cols].tolist(), after[rows, cols].tolist(), delta.tolist())],
        hovertemplate=(
            f"<b>%{{customdata[0]}}</b><br><b>%{{customdata[1]}}</b><br>{what}: %{{customdata[2]:{fmt}}} → "
            f"%{{customdata[3]:{fmt}}} (%{{customdata[4]:+{fmt}}})<extra>changed</extra>"
        ),
        showlegend=False,
    )


def _empty_marks() -> dict:
    return dict(type="scatter", x=[], y=[], customdata=[], mode="markers", showlegend=False, hoverinfo="skip")


def _bars(counts: np.ndarray, before: np.ndarray, labels, titles, highlight: bool) -> dict:
    changed = counts != before
    return _trace(
        type="bar",
        x=list(labels),
        y=counts.tolist(),
        marker={"color": [(_CHANGED if highlight and c else "#1f77b4") for c in changed]},
        text=[f"{b}→{a}" if highlight and c else "" for a, b, c in zip(counts.tolist(), before.tolist(), changed)]
        if len(labels) <= 14
        else None,
        textposition="outside",
        customdata=[[title, b] for title, b in zip(titles, before.tolist())],
        hovertemplate="<b>%{customdata[0]}</b><br>n = %{y} (before: %{customdata[1]})<extra></extra>",
        showlegend=False,
    )


def _off_diagonal_max(matrix: np.ndarray) -> float:
    values = np.asarray(matrix, dtype=float)
    return float(values[~np.eye(len(values), dtype=bool)].max(initial=0)) if values.size else 0.0


def _changed(before: np.ndarray, after: np.ndarray) -> int:
    return int(np.count_nonzero(~np.isclose(np.asarray(before, float), np.asarray(after, float), rtol=0, atol=1e-12)))


def _few(before: np.ndarray, after: np.ndarray) -> bool:
    """True when outlines point at something: a small window, or few of the cells changed."""
    size = np.asarray(after).size
    return size <= _TEXT_LIMIT**2 or _changed(before, after) <= _MARKS_SHARE * size


def _cell_numbers(before: Window, after: Window) -> tuple[bool, bool]:
    """Whether C's and S's cells have their numbers written: at every stage or at none. A frame without
    text keeps the text drawn before it, so when "10" did not fit but "9" did, Play's "before" showed
    the after state's numbers over the old colours. Decided once per figure: formatting every cell
    of both states was half of a 40-movie figure's time, and it was done for each of its 6 stages."""
    cell = _cell_px(after)
    return (_fits(before.cooccurrences, "d", cell) and _fits(after.cooccurrences, "d", cell),
            _fits(before.similarities, ".2f", cell) and _fits(after.similarities, ".2f", cell))


def _stage_traces(before: Window, after: Window, stage: int, marks: bool = True, hover: bool = True,
                  numbers: tuple[bool, bool] | None = None) -> list:
    """The 7 traces (H, n, C, S heatmaps/bars, then H, C, S change marks) at ``stage`` 0..4;
    ``numbers``: :func:`_cell_numbers` of the two windows (computed when not given)."""
    x, y = _text(after.item_labels), _text(after.user_labels)
    hover_x, hover_y = _text(after.item_titles), _text(after.user_labels)
    cell = _cell_px(after)
    # colour scales fixed across frames, from the entries off the diagonal (C_aa = n_a, S_aa = 1 would wash out the rest)
    zmax_c = float(max(1, _off_diagonal_max(before.cooccurrences), _off_diagonal_max(after.cooccurrences)))
    zmax_s = _weights_range(before, after)
    names = after.matrices
    H = after.history if stage >= 1 else before.history
    n = after.counts if stage >= 2 else before.counts
    C = after.cooccurrences if stage >= 3 else before.cooccurrences
    S = after.similarities if stage >= 4 else before.similarities
    size = _mark_px(after)
    numbers_c, numbers_s = _cell_numbers(before, after) if numbers is None else numbers
    return [
        _heatmap(H, x, y, hover_x, hover_y, "watched", "Blues", 1, "d", False, hover=hover),
        _bars(n, before.counts, x, hover_x, stage >= 2),
        _heatmap(C, x, x, hover_x, hover_x, names.pair, "Greens", zmax_c, "d", numbers_c, hover=hover),
        # B is negative as often as positive: a diverging scale centred on 0, S a sequential one from 0
        _heatmap(S, x, x, hover_x, hover_x, names.weight, "RdBu" if names.signed else "Purples", zmax_s, ".2f",
                 numbers_s, zmid=0.0 if names.signed else None, hover=hover),
        _marks(before.history.astype(float), H.astype(float), x, y, hover_x, hover_y, "H", ".0f", size)
        if marks and stage >= 1 and _few(before.history, after.history) else _empty_marks(),
        _marks(before.cooccurrences.astype(float), C.astype(float), x, x, hover_x, hover_x, names.pair, ".0f", size)
        if marks and stage >= 3 and _few(before.cooccurrences, after.cooccurrences) else _empty_marks(),
        _marks(before.similarities, S, x, x, hover_x, hover_x, names.weight, ".3f", size)
        if marks and stage >= 4 and _few(before.similarities, after.similarities) else _empty_marks(),
    ]


def _panel_titles(before: Window, after: Window, measure: str) -> list[str]:
    """The four panel titles; after a change each says how many of its cells changed."""
    names = after.matrices
    titles = [*_PANELS, names.pair_title, names.weight_title.format(measure=html.escape(measure))]
    lines = ["", "", names.pair_note, ""]  # each panel's small second line
    if before is not after:
        pairs = ((before.history, after.history), (before.counts, after.counts),
                 (before.cooccurrences, after.cooccurrences), (before.similarities, after.similarities))
        lines = [f"{_changed(old, new):,} of {np.asarray(new).size:,} {'bars' if k == 1 else 'cells'} changed"
                 f"{f'; {note}' if note else ''}" for k, (note, (old, new)) in enumerate(zip(lines, pairs))]
    return [f"{title}<br><span style='font-size:11px'>{line}</span>" if line else title
            for title, line in zip(titles, lines)]


#: n's axis runs to the tallest bar times this: room above it for the "10→9" written over a changed bar.
_BAR_HEADROOM = 1.25
_CHANGING = {"heatmap": ("z", "text"), "bar": ("y", "text", "marker"), "scatter": ("x", "y", "customdata", "mode")}


def _changing(trace: dict) -> dict:
    """The properties of ``trace`` that differ between animation stages (those it sets)."""
    return {"type": trace["type"], **{name: trace[name] for name in _CHANGING[trace["type"]] if trace.get(name) is not None}}


def _y_labels_px(window: Window) -> float:
    return max(_label_px(window.item_labels), _label_px(short_names(window.user_labels, ids=window.users)))


def _between(y_labels: float) -> float:
    """The gap between the grid's two columns, a fraction of the plot area between the margins:
    :data:`_MIDDLE` px in the :data:`_WIDTH` layout, the same fraction when the column stretches."""
    return _MIDDLE / (_WIDTH - y_labels - _BAR)


def _across_px(window: Window, width: float = _WIDTH) -> float:
    """A heatmap column's width in px (unclipped) when the main column is ``width`` px wide."""
    y_labels = _y_labels_px(window)
    middle = _MIDDLE * (width - y_labels - _BAR) / (_WIDTH - y_labels - _BAR)  # the gap keeps its fraction (_between)
    return (width - y_labels - middle - _BAR) / 2 / max(len(window.items), 1)


def _cell_px(window: Window) -> float:
    """A heatmap cell's expected width in the 2 x 2 grid (rows get the same height: square cells)."""
    return float(np.clip(_across_px(window), _MIN_CELL, _CELL))


def _mark_px(window: Window) -> float:
    """A change mark's size in pixels: a cell's width in the narrowest main column (:data:`_NARROWEST`),
    less 3, and no more than a row's height. The marks are markers of a fixed size while the cells
    stretch with the column: sized for the 700 px layout, at a 1,024 px window they were 33 px squares
    on 29 px cells, covering their neighbours' numbers (a visitor could not tell which cells changed)."""
    return max(min(_across_px(window, _NARROWEST), _cell_px(window)) - 3, 6)


def _changed_columns(before: Window, after: Window) -> np.ndarray:
    """Positions of the movies a change touched (a column of H or a count moved) in two windows
    over the same users and items."""
    return np.flatnonzero((before.history != after.history).any(axis=0) | (before.counts != after.counts))


def _x_tick_text(labels: list[str], keep: Iterable[int]) -> list[str]:
    """The names below the columns: every movie's, those in ``keep`` (the movies a change touched:
    a viewer looks for their names first) in bold. Which names fit is decided in the browser, where
    the columns' width is known (``ui_state``'s tick thinning keeps the bold ones first, then the
    others left to right, and hides any that would touch a kept one): named every other column for
    the narrowest layout, one of three movies a visitor had just added went unnamed at 1,920 px,
    where every name fits."""
    touched = {int(p) for p in keep}
    return [f"<b>{label}</b>" if position in touched else label for position, label in enumerate(labels)]


def _grid(window: Window, top: int, titles: list[str], keep: Iterable[int] = ()) -> tuple[dict, int]:
    """The 2 x 2 grid's layout sized in pixels from the labels; returns (layout, plot height in px).
    ``keep``: positions of the movies whose names the x axes must show (see :func:`_x_ticks`)."""
    items, users = len(window.items), max(len(window.users), 3)
    x_labels = _label_px(window.item_labels) * 0.87  # x tick labels are drawn at -60°
    y_labels = _y_labels_px(window)
    cell = _cell_px(window)
    h_row, c_row = users * cell, items * cell
    gap = x_labels + 55  # the top row's x labels and the bottom row's titles (two lines)
    bottom = x_labels + 10
    plot_height = int(h_row + gap + c_row)
    layout = _dark_titles(_subplots(titles, 2, 2, _between(y_labels), gap / plot_height,
                                    [h_row / (h_row + c_row), c_row / (h_row + c_row)]))
    layout.update(
        height=int(top + plot_height + bottom),
        margin={"l": int(y_labels), "r": _BAR, "t": top, "b": int(bottom)},
        bargap=0.15,
        plot_bgcolor="white",
        font={"size": _FONT},
        hoverlabel={"align": "left"},
    )
    # every movie named, the changed ones in bold, and the browser hides names that would touch (see
    # _x_tick_text); C's rows name every one, in the same order, and the hover gives each title
    labels = _text(window.item_labels)
    _update_axes(layout, "x", tickangle=-60, type="category", tickmode="array", tickvals=labels,
                 ticktext=_x_tick_text(labels, keep), automargin=False, tickfont=_TICKS)
    _update_axes(layout, "y", type="category", tickmode="linear", dtick=1, automargin=False, tickfont=_TICKS)
    for name in ("yaxis", "yaxis3", "yaxis4"):  # H, C and S read top to bottom
        layout[name]["autorange"] = "reversed"
    # H's rows are the users' whole names (its hover says them); the axis shows them short
    layout["yaxis"].update(tickmode="array", tickvals=_text(window.user_labels),
                           ticktext=_text(short_names(window.user_labels, ids=window.users)))
    # no axis title: the subplot's says "n: how many…", and at a 1,024 px window an "n" here overprinted H's colour bar
    layout["yaxis2"].update(type="linear", tickmode="auto", rangemode="tozero")
    layout["yaxis4"].update(showticklabels=False, ticks="")  # S's rows are C's, named just left of it: no bare dashes
    return layout, plot_height


#: the subplot axes of each of the 7 traces (H, n, C, S, then the marks on H, C, S)
_AXES = [("x", "y"), ("x2", "y2"), ("x3", "y3"), ("x4", "y4"), ("x", "y"), ("x3", "y3"), ("x4", "y4")]


def _placed(traces: list[dict]) -> list[dict]:
    return [{**trace, "xaxis": x, "yaxis": y} for trace, (x, y) in zip(traces, _AXES)]


def _with_scales(traces: list[dict], layout: dict, names: Matrices) -> list[dict]:
    """The H, C and S (or G and B) heatmaps with a colour scale each, saying what the colour means."""
    def beyond(trace: dict) -> float | None:  # the scale's top when a cell (the diagonal) holds more
        zmax = trace["zmax"]
        return zmax if float(np.max(trace["z"], initial=0)) > zmax else None

    bars = {0: _colorbar(layout, "x", "watched", labels={0: "no", 1: "yes"}),
            2: _colorbar(layout, "x3", f"{names.pair} (people)", integer=traces[2]["zmax"], top=beyond(traces[2])),
            3: _colorbar(layout, "x4", f"{names.weight} (red −, blue +)" if names.signed else names.weight,
                         top=None if names.signed else beyond(traces[3]))}
    return [{**trace, "showscale": True, "colorbar": bars[k]} if k in bars else trace for k, trace in enumerate(traces)]


def _title(layout: dict, title: str) -> None:
    layout["title"] = {"text": html.escape(title, quote=False), "x": 0.0, "xanchor": "left", "y": 1.0, "yref": "container", "yanchor": "top", "pad": {"t": 12}}


def state_figure(window: Window, title: str = "The model now", measure: str = "Jaccard",
                 before: Window | None = None) -> go.Figure:
    """H, n, C and S of ``window`` as they are (no animation; see :func:`state_spec`)."""
    return _figure(state_spec(window, title, measure, before))


def state_spec(window: Window, title: str = "The model now", measure: str = "Jaccard",
               before: Window | None = None) -> dict:
    """H, n, C and S of ``window`` as they are (no animation). ``before``: the same window before the
    change that led to this state, whose movies are then named first on the x axes (the Change log's
    past model named every other movie and left the one its change touched, the tallest bar, unnamed)."""
    keep = _changed_columns(before, window) if before is not None else ()
    layout, _ = _grid(window, 80, _panel_titles(window, window, measure), keep)
    _title(layout, title)
    return ({"data": _with_scales(_placed(_stage_traces(window, window, 0, marks=False)[:4]), layout, window.matrices),
                    "layout": layout})


def update_figure(before: Window, after: Window, title: str, measure: str = "Jaccard") -> go.Figure:
    """The animated figure of one change (see :func:`update_spec`)."""
    return _figure(update_spec(before, after, title, measure))


def update_spec(before: Window, after: Window, title: str, measure: str = "Jaccard") -> dict:
    """An animated figure of one change: frames before, H, n, C, S; opens on the final state.

    ``before`` and ``after`` must cover the same users and items. Play runs all five stages
    from "before"; the slider jumps to any stage. The controls sit in a band of their own
    between the title and the panels' titles.
    """
    if before.users != after.users or before.items != after.items:
        raise ValueError("before and after windows must cover the same users and items")
    top = 150
    changed = _changed_columns(before, after)
    layout, plot_height = _grid(after, top, _panel_titles(before, after, measure), changed)
    # n's axis holds the taller of the two states: an autorange fits the state drawn first (the after state),
    # and frames keep the axes, so Play's "before" cut every bar a forget lowered (10 drawn at about 9.5)
    tallest = float(max(np.max(before.counts, initial=0), np.max(after.counts, initial=0), 1))
    layout["yaxis2"].update(range=[0, tallest * _BAR_HEADROOM], autorange=False)
    names = stages(after.matrices)
    last = len(names) - 1
    numbers = _cell_numbers(before, after)
    frames = [
        # A frame carries only what changes between stages (values, colours, marks): Plotly merges it into
        # the traces, so axes, labels and hover titles are sent once. Frame traces must still name their
        # subplot's axes, or Plotly draws them all on the first one.
        {"name": name, "data": _placed([_changing(trace) for trace in _stage_traces(before, after, stage, hover=False,
                                                                                    numbers=numbers)]),
         "traces": list(range(len(_AXES)))}
        for stage, name in enumerate(names)
    ]
    controls_y = 1 + (top - 48) / plot_height  # paper coordinates: 48 px below the figure's top
    # The buttons end where the slider starts (anchored by their right edge), and the slider starts where, in
    # the narrowest column, the buttons still fit inside the figure, over the users' names when there is room:
    # placed for the 700 px layout, at a 1,024 px window the "before" grip sat under ❚❚ Pause and the slider
    # was so short that Plotly dropped every other stage's name ("H" and "C" went). Paper coordinates are
    # fractions of the plot area, which stretches with the column; the buttons never do.
    margin = layout["margin"]["l"]
    slider_x = min(0.4, max(0.0, (_BUTTONS_PX - margin) / (_NARROWEST - margin - layout["margin"]["r"])))
    step_args = {"frame": {"duration": 0, "redraw": True}, "mode": "immediate", "transition": {"duration": 0}}
    _title(layout, title)
    layout.update(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": slider_x,
                "y": controls_y,
                "yanchor": "top",
                "xanchor": "right",
                "showactive": False,
                "pad": {"t": 0, "r": 12},  # a gap before the slider's first grip
                "buttons": [
                    {
                        "label": "▶ Play",
                        "method": "animate",
                        # non-scatter traces only update with redraw: True
                        "args": [None, {"frame": {"duration": 1100, "redraw": True}, "fromcurrent": False, "transition": {"duration": 0}}],
                    },
                    {"label": "❚❚ Pause", "method": "animate", "args": [[None], {**step_args, "frame": {"duration": 0, "redraw": False}}]},
                ],
            }
        ],
        sliders=[
            {
                "active": last,
                "x": slider_x,
                "y": controls_y,
                "yanchor": "top",
                "len": 1 - slider_x,
                "currentvalue": {"visible": False},
                "pad": {"t": 0, "b": 0},
                "steps": [
                    {"label": label, "method": "animate", "args": [[name], step_args]}
                    for name, label in zip(names, ("before", "H", "n", after.matrices.pair, after.matrices.weight))
                ],
            }
        ],
    )
    return ({"data": _with_scales(_placed(_stage_traces(before, after, last, numbers=numbers)), layout, after.matrices),
             "layout": layout,
                    "frames": frames})


def _delta_cells(values: np.ndarray, integer: bool) -> list[list[str]]:
    """Each change with its sign and enough decimals to show it (never "−0.000"); empty where 0."""
    return [[signed(v, 0 if integer else None) for v in row] for row in np.asarray(values).tolist()]


def delta_figure(before: Window, after: Window, title: str = "What changed") -> go.Figure:
    """ΔC and ΔS of a change (see :func:`delta_spec`)."""
    return _figure(delta_spec(before, after, title))


def delta_spec(before: Window, after: Window, title: str = "What changed") -> dict:
    """ΔC and ΔS (after minus before) over the window, as diverging heatmaps centred on 0,
    one above the other so each is as wide as the page.

    Each cell shows its change (ΔS to two decimals, ``+0.03``; smaller ones with as many as they
    need); the hover gives the values before and after. Red is a decrease, blue an increase, and
    each panel's colour scale says so.
    """
    delta_c, delta_s = window_delta(before, after)
    x = _text(after.item_labels)
    titles = _text(after.item_titles)
    y_labels = _label_px(after.item_labels)
    x_labels = _label_px(after.item_labels) * 0.87
    rows = len(x)
    panel = rows * _CELL
    cell = (_WIDTH - y_labels - _BAR) / max(rows, 1)  # each panel is as wide as the page
    gap = x_labels + 45
    names = after.matrices
    panels = [f"Δ{names.pair}: change in co-occurrences", f"Δ{names.weight}: change in {names.weight_words}"]
    layout = _dark_titles(_subplots(panels, 2, 1, 0.0, gap / (2 * panel + gap)))
    data = []
    for row, (delta, old, new, what, fmt, integer) in enumerate(
        (
            (delta_c, before.cooccurrences, after.cooccurrences, names.pair, "d", True),
            (delta_s, before.similarities, after.similarities, names.weight, ".4f", False),
        ),
        start=1,
    ):
        scale = float(max(np.abs(delta).max(initial=0), 1 if integer else 1e-9))
        old, new = np.asarray(old).tolist(), np.asarray(new).tolist()  # Python numbers: the spec is not validated
        custom = [[[titles[r], titles[c], old[r][c], new[r][c]] for c in range(rows)] for r in range(rows)]
        data.append(
            dict(
                type="heatmap",
                z=np.asarray(delta, dtype=float).tolist(),
                x=x,
                y=x,
                zmin=-scale,
                zmax=scale,
                zmid=0,
                colorscale=_SCALES["RdBu"],
                text=_delta_cells(delta, integer) if _fits_text(_delta_cells(delta, integer), cell) else None,
                texttemplate="%{text}",
                textfont={"size": _CELL_FONT},
                customdata=custom,
                hovertemplate=(
                    f"<b>%{{customdata[0]}}</b><br><b>%{{customdata[1]}}</b><br>{what}: %{{customdata[2]:{fmt}}} → "
                    f"%{{customdata[3]:{fmt}}} (Δ = %{{z:+{fmt}}})<extra></extra>"
                ),
                xgap=1,
                ygap=1,
                showscale=True,
                colorbar=_colorbar(layout, "x" if row == 1 else "x2", f"Δ{what} (red −, blue +)", integer=scale if integer else 0),
                xaxis="x" if row == 1 else "x2",
                yaxis="y" if row == 1 else "y2",
            )
        )
    _update_axes(layout, "x", tickangle=-60, type="category", tickmode="linear", dtick=1, automargin=False, tickfont=_TICKS)
    _update_axes(layout, "y", type="category", tickmode="linear", dtick=1, autorange="reversed", automargin=False, tickfont=_TICKS)
    layout.update(
        height=int(70 + 2 * panel + gap + x_labels + 10),
        margin={"l": int(y_labels), "r": _BAR, "t": 70, "b": int(x_labels + 10)},
        plot_bgcolor="white",
        font={"size": _FONT},
        hoverlabel={"align": "left"},
    )
    _title(layout, title)
    return {"data": data, "layout": layout}
