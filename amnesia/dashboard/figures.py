"""Plotly figures of the model: pure functions from windows of state to ``go.Figure``.

:func:`update_figure` animates one change the way the original Amnesia demo did, in five
stages: before -> H changes -> n -> C -> S. Changed cells are outlined and labelled with
their delta; colour scales are fixed across frames so colours mean the same in every
frame. Nothing here reads a model or Streamlit: same windows in, same figure out, so the
app can rebuild figures on every rerun without restarting animations.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .views import Window

STAGES = ("before", "1 · H changes", "2 · n changes", "3 · C changes", "4 · S changes")
_STEP_LABELS = ("before", "H", "n", "C", "S")
_CHANGED = "#d62728"
_TEXT_LIMIT = 14  # write values into cells only while they stay readable
_PANELS = ("H: who watched what", "n: how many watched each movie", "C: watched both (co-occurrences)", "S: Jaccard similarity (rows as in C)")


def _heatmap(
    z: np.ndarray, x, y, what: str, colorscale: str, zmax: float, fmt: str, show_text: bool, colorbar: tuple[float, float]
) -> go.Heatmap:
    return go.Heatmap(
        z=np.asarray(z).tolist(),  # plain lists: 2-D typed arrays did not render in every plotly.js
        x=list(x),
        y=list(y),
        zmin=0,
        zmax=zmax,
        colorscale=colorscale,
        texttemplate=f"%{{z:{fmt}}}" if show_text else None,
        hovertemplate=f"<b>%{{y}}</b> × <b>%{{x}}</b><br>{what} = %{{z:{fmt}}}<extra></extra>",
        colorbar={"len": 0.38, "x": colorbar[0], "y": colorbar[1], "thickness": 10, "outlinewidth": 0},
        xgap=1,
        ygap=1,
    )


def _marks(
    before: np.ndarray, after: np.ndarray, x, y, what: str, fmt: str, small: bool, write_delta: bool = True
) -> go.Scatter:
    """Outlined markers on the cells whose value changed, labelled with the delta when ``write_delta``."""
    rows, cols = np.nonzero(~np.isclose(before, after, rtol=0, atol=1e-12))
    delta = after[rows, cols] - before[rows, cols]
    text = [f"{d:+{fmt}}".replace("-", "−") for d in delta]
    return go.Scatter(
        x=[x[c] for c in cols],
        y=[y[r] for r in rows],
        mode="markers+text" if small and write_delta else "markers",
        text=text,
        textposition="top right",
        textfont={"color": _CHANGED, "size": 11},
        marker={"symbol": "square-open", "size": 30 if small else 9, "color": _CHANGED, "line": {"width": 2}},
        customdata=np.column_stack([before[rows, cols], after[rows, cols], delta]) if len(rows) else None,
        hovertemplate=(
            f"<b>%{{y}}</b> × <b>%{{x}}</b><br>{what}: %{{customdata[0]:{fmt}}} → %{{customdata[1]:{fmt}}} "
            f"(%{{customdata[2]:+{fmt}}})<extra>changed</extra>"
        ),
        showlegend=False,
    )


def _empty_marks() -> go.Scatter:
    return go.Scatter(x=[], y=[], mode="markers", showlegend=False, hoverinfo="skip")


def _bars(counts: np.ndarray, before: np.ndarray, labels, highlight: bool) -> go.Bar:
    changed = counts != before
    return go.Bar(
        x=list(labels),
        y=counts,
        marker={"color": [(_CHANGED if highlight and c else "#1f77b4") for c in changed]},
        text=[f"{b}→{a}" if highlight and c else "" for a, b, c in zip(counts, before, changed)],
        textposition="outside",
        customdata=before,
        hovertemplate="<b>%{x}</b><br>n = %{y} (before: %{customdata})<extra></extra>",
        showlegend=False,
    )


def _stage_traces(before: Window, after: Window, stage: int) -> list:
    """The 7 traces (H, n, C, S heatmaps/bars, then H, C, S change marks) at ``stage`` 0..4."""
    x, y = list(after.item_labels), list(after.user_labels)
    small = len(x) <= _TEXT_LIMIT
    zmax_c = float(max(1, before.cooccurrences.max(initial=0), after.cooccurrences.max(initial=0)))
    H = after.history if stage >= 1 else before.history
    n = after.counts if stage >= 2 else before.counts
    C = after.cooccurrences if stage >= 3 else before.cooccurrences
    S = after.similarities if stage >= 4 else before.similarities
    return [
        _heatmap(H, x, y, "watched", "Blues", 1, "d", small and len(y) <= _TEXT_LIMIT, (0.445, 0.81)),
        _bars(n, before.counts, x, stage >= 2),
        _heatmap(C, x, x, "C", "Greens", zmax_c, "d", small, (0.445, 0.19)),
        _heatmap(S, x, x, "S", "Purples", 1, ".2f", small, (1.0, 0.19)),
        _marks(before.history.astype(float), H.astype(float), x, y, "H", ".0f", small) if stage >= 1 else _empty_marks(),
        _marks(before.cooccurrences.astype(float), C.astype(float), x, x, "C", ".0f", small) if stage >= 3 else _empty_marks(),
        # S deltas are fractions: outlined and in the hover, not written into the small cells
        _marks(before.similarities, S, x, x, "S", ".2f", small, write_delta=False) if stage >= 4 else _empty_marks(),
    ]


_PLACES = [(1, 1), (1, 2), (2, 1), (2, 2), (1, 1), (2, 1), (2, 2)]


def _grid() -> go.Figure:
    # H over C and n over S show the same movies on x: share those axes, label them once
    return make_subplots(
        rows=2, cols=2, subplot_titles=_PANELS, shared_xaxes=True, horizontal_spacing=0.16, vertical_spacing=0.1
    )


def _frame_layout(figure: go.Figure, window: Window, title: str, top: int) -> float:
    """Size and style the grid; returns the plot area's height in pixels."""
    height = top + 560 + 16 * max(len(window.items), len(window.users))
    figure.update_layout(
        title={"text": title, "x": 0.01, "y": 0.995, "yanchor": "top"},
        height=height,
        margin={"l": 10, "r": 10, "t": top, "b": 10},
        bargap=0.15,
        plot_bgcolor="white",
    )
    figure.update_xaxes(tickangle=-40, automargin=True, type="category")
    figure.update_yaxes(automargin=True)
    for row, col in ((1, 1), (2, 1), (2, 2)):
        figure.update_yaxes(autorange="reversed", type="category", row=row, col=col)
    figure.update_yaxes(title_text="n", rangemode="tozero", row=1, col=2)
    figure.update_yaxes(showticklabels=False, row=2, col=2)  # same movies as C's rows; keeps C's colour bar clear
    return height - top - 10


def state_figure(window: Window, title: str = "The model now") -> go.Figure:
    """H, n, C and S of ``window`` as they are (no animation)."""
    figure = _grid()
    for trace, (row, col) in zip(_stage_traces(window, window, 0)[:4], _PLACES):
        figure.add_trace(trace, row=row, col=col)
    _frame_layout(figure, window, title, top=60)
    return figure


def update_figure(before: Window, after: Window, title: str) -> go.Figure:
    """An animated figure of one change: frames before, H, n, C, S; opens on the final state.

    ``before`` and ``after`` must cover the same users and items. Play runs all five stages
    from "before"; the slider jumps to any stage.
    """
    if before.users != after.users or before.items != after.items:
        raise ValueError("before and after windows must cover the same users and items")
    figure = _grid()
    last = len(STAGES) - 1
    for trace, (row, col) in zip(_stage_traces(before, after, last), _PLACES):
        figure.add_trace(trace, row=row, col=col)
    axes = [(trace.xaxis, trace.yaxis) for trace in figure.data]
    figure.frames = [
        # frame traces must name their subplot's axes, or Plotly draws them all on the first one
        go.Frame(
            name=name,
            data=[trace.update(xaxis=x, yaxis=y) for trace, (x, y) in zip(_stage_traces(before, after, stage), axes)],
            traces=list(range(len(axes))),
        )
        for stage, name in enumerate(STAGES)
    ]
    top = 150
    plot_height = _frame_layout(figure, after, title, top=top)
    controls_y = 1 + (top - 45) / plot_height  # paper coordinates of a band under the title
    step_args = {"frame": {"duration": 0, "redraw": True}, "mode": "immediate", "transition": {"duration": 0}}
    figure.update_layout(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "y": controls_y,
                "yanchor": "top",
                "xanchor": "left",
                "showactive": False,
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
                "x": 0.2,
                "y": controls_y + 0.01,
                "yanchor": "top",
                "len": 0.78,
                "currentvalue": {"prefix": "stage: ", "font": {"size": 13}, "visible": False},
                "pad": {"t": 30, "b": 0},
                "steps": [
                    {"label": label, "method": "animate", "args": [[name], step_args]} for name, label in zip(STAGES, _STEP_LABELS)
                ],
            }
        ],
    )
    return figure
