"""Plotly figures of a lab result: pure functions from the ``lab.json`` document to ``go.Figure``.

Every chart draws the null control (retrain versus retrain with other seeds) as a shaded band
or box, so each method is read against the noise floor. Nothing here reads files or Streamlit.
"""

from __future__ import annotations

import plotly.graph_objects as go

from .registry import METHODS
from .verdict import by_construction, verdict_text

COLORS = {"exact": "#2ca02c", "approximate": "#ff7f0e", "reference": "#7f7f7f"}
NULL_FILL = "rgba(31, 119, 180, 0.14)"
NULL_LINE = "rgba(31, 119, 180, 0.6)"
SYMBOLS = {name: method.marker for name, method in METHODS.items()}
Z_LIMIT = 15.0  # the attack plot clips z beyond this (a point at the edge means "at least this far")


def _rows(result: dict, kind: str) -> list[dict]:
    return [row for row in result["rows"] if row["forget_set"] == kind]


def _error(row: dict, key: str) -> dict:
    ci, value = row.get(f"{key}_ci"), row.get(key)
    if not ci or ci[0] is None or value is None:
        return {"visible": False}
    return {
        "type": "data",
        "symmetric": False,
        "array": [ci[1] - value],
        "arrayminus": [value - ci[0]],
        "thickness": 1.2,
        "width": 4,
    }


def _marker(row: dict) -> dict:
    """One legend entry per method: colour by family (exact, approximate, reference), symbol by method."""
    colour = COLORS[row["family"]]
    return {
        # the family once: "EASE forget (exact)" already says it
        "name": row["label"] if row["family"] in row["label"] else f"{row['label']} ({row['family']})",
        "legendgroup": row["method"],
        "marker": {
            "size": 13,
            "color": colour,
            "symbol": SYMBOLS.get(row["method"], "circle"),
            "line": {"width": 1, "color": "white"},
        },
    }


def _layout(figure: go.Figure, title: str, x: str, y: str) -> go.Figure:
    figure.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"},
        xaxis_title=x,
        yaxis_title=y,
        plot_bgcolor="white",
        height=560,
        margin={"l": 60, "r": 20, "t": 60, "b": 190},
        # the legend's rows at the figure's foot: placed in the plot's units (y = -0.2), they sat on
        # the x axis's tick labels and title whenever the plot came out shorter (in a tab opened later)
        legend={"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0, "x": 0},
    )
    figure.update_xaxes(showgrid=True, gridcolor="#eee", zeroline=False)
    figure.update_yaxes(showgrid=True, gridcolor="#eee", zeroline=False)
    return figure


def _legend_once(figure: go.Figure) -> None:
    """One legend entry per family, not per method."""
    seen = set()
    for trace in figure.data:
        if trace.legendgroup in seen:
            trace.showlegend = False
        seen.add(trace.legendgroup)


def quality_vs_time(result: dict, kind: str) -> go.Figure:
    """Forgetting quality F (with its interval) against unlearning time (log scale), per method;
    the null control's F interval as a band."""
    figure = go.Figure()
    null = result["null_control"][kind]
    low, high = null["forgetting_quality_ci"]
    if low is not None:
        figure.add_hrect(y0=low, y1=high, fillcolor=NULL_FILL, line_width=0, layer="below")
        figure.add_hline(
            y=null["forgetting_quality"],
            line={"color": NULL_LINE, "dash": "dot", "width": 1},
            annotation_text="null control (retrain vs retrain)",
            annotation_position="top left",
        )
    for row in _rows(result, kind):
        if row["family"] == "reference" and row["method"] != "original":
            continue  # the exact models' own "nothing forgotten" rows are compared with their own retrains
        if row["method"] == "original":
            figure.add_hline(
                y=row["forgetting_quality"],
                line={"color": COLORS["reference"], "dash": "dash", "width": 1},
                annotation_text="nothing forgotten",
                annotation_position="bottom right",
            )
            continue
        figure.add_trace(
            go.Scatter(
                x=[row["seconds"]],
                y=[row["forgetting_quality"]],
                error_y=_error(row, "forgetting_quality"),
                mode="markers",
                **_marker(row),
                hovertemplate=(
                    f"<b>{row['label']}</b><br>time %{{x:.4g}} s<br>F = %{{y:.3f}}<br>ε = {row['epsilon']}"
                    f"<br>{verdict_text(result, row)}<extra></extra>"
                ),
            )
        )
    figure.update_xaxes(type="log")
    figure.update_yaxes(range=[-0.05, 1.1])
    return _layout(
        figure,
        "Forgetting quality against time",
        "seconds to forget the whole set (log scale)",
        "forgetting quality F (1 = indistinguishable)",
    )


def utility_vs_quality(result: dict, kind: str) -> go.Figure:
    """Utility against forgetting quality F, both with intervals: utility as NDCG@10 minus the retrained
    factorisations' on the same users (paired, as the report reads it: the NDCG@10 intervals were mostly
    the spread between users, and every method's overlapped). The null control (the Retrain row) is a
    box; rows equal to a retrain by construction are hollow, their F = 1 not a measurement."""
    figure = go.Figure()
    null = result["null_control"][kind]
    retrain = next((row for row in _rows(result, kind) if row["method"] == "retrain"), {})
    (f_low, f_high), (u_low, u_high) = null["forgetting_quality_ci"], retrain.get("ndcg_gap_to_als_ci") or (None, None)
    if None not in (f_low, f_high, u_low, u_high):
        figure.add_shape(
            type="rect",
            x0=f_low,
            x1=f_high,
            y0=u_low,
            y1=u_high,
            fillcolor=NULL_FILL,
            line={"color": NULL_LINE, "width": 1},
            layer="below",
        )
        figure.add_annotation(
            x=f_low,
            y=u_high,
            text="null control",
            showarrow=False,
            xanchor="right",
            yanchor="bottom",
            font={"color": NULL_LINE},
        )
    for row in _rows(result, kind):
        if row.get("ndcg_gap_to_als") is None:
            continue
        why = by_construction(row)
        marker = _marker(row)
        if why:  # hollow: where it sits says what it is by construction, not what was measured
            marker["marker"] = {**marker["marker"], "color": "white", "line": {"width": 2, "color": marker["marker"]["color"]}}
        figure.add_trace(
            go.Scatter(
                x=[row["forgetting_quality"]],
                y=[row["ndcg_gap_to_als"]],
                error_x=_error(row, "forgetting_quality"),
                error_y=_error(row, "ndcg_gap_to_als"),
                mode="markers",
                **marker,
                hovertemplate=(
                    f"<b>{row['label']}</b><br>F = %{{x:.3f}}" + (f" (by construction: {why})" if why else "")
                    + f"<br>NDCG@10 {row['ndcg_at_10']:.3f}, %{{y:+.3f}} against the retrained factorisation on the same users"
                    f"<br>final score {row['final_score']}<extra></extra>"
                ),
            )
        )
    figure.add_hline(y=0, line={"color": "#999", "width": 1})
    figure.update_xaxes(range=[-0.05, 1.1])
    return _layout(figure, "Utility against forgetting quality",
                   "forgetting quality F", "NDCG@10 − retrained ALS, same users")


def attack_distributions(result: dict, kind: str) -> go.Figure:
    """The attack statistic under unlearned and under retrained models, per method.

    Each forgotten user's statistic is standardised by the retrained models' mean and standard
    deviation for that user, so 0 is "like a retrained model" and the retrained side is a
    reference spread; values beyond ±15 are drawn at ±15.
    """
    figure = go.Figure()
    for row in reversed(_rows(result, kind)):
        values = [v for v in row["attack_z"]["unlearned"] + row["attack_z"]["retrained"] if v is not None]
        if values and max(values) == min(values):  # one deterministic model a side: a point, not a spread
            # the z-scores are degenerate then (the retrained side has no spread): only a certificate says "identical"
            identical = bool(row.get("certificate", {}).get("equal"))
            label = ("identical to the retrain" if identical else
                     f"differs from its retrain: ε = {row['epsilon']:.2f}")
            figure.add_trace(
                go.Scatter(
                    x=[values[0]],
                    y=[row["label"]],
                    mode="markers+text",
                    text=[label],
                    textposition="middle right",
                    name="identical models" if identical else "deterministic models",
                    legendgroup="identical" if identical else "deterministic",
                    marker={"symbol": "diamond" if identical else "x", "size": 12, "color": COLORS[row["family"]]},
                    hoverinfo="skip",
                )
            )
            continue
        for side, values, colour in (
            ("retrained", row["attack_z"]["retrained"], NULL_LINE),
            ("unlearned", row["attack_z"]["unlearned"], COLORS[row["family"]]),
        ):
            clipped = [max(-Z_LIMIT, min(Z_LIMIT, v)) for v in values if v is not None]
            figure.add_trace(
                go.Violin(
                    x=clipped,
                    y=[row["label"]] * len(clipped),
                    orientation="h",
                    side="positive" if side == "unlearned" else "negative",
                    name=f"{side} models",
                    legendgroup=side,
                    line={"color": colour, "width": 1},
                    fillcolor=colour,
                    opacity=0.55,
                    points=False,
                    spanmode="hard",
                    width=0.9,
                    scalemode="width",
                    meanline={"visible": True},
                    hoverinfo="skip",
                )
            )
    _legend_once(figure)
    figure.update_layout(violingap=0, violinmode="overlay")
    figure.add_vline(x=0, line={"color": "#999", "width": 1})
    figure.update_xaxes(range=[-Z_LIMIT - 0.5, Z_LIMIT + 0.5])
    figure = _layout(
        figure,
        "What the attacker sees: each forgotten user's fit, unlearned (above) vs retrained (below)",
        "fit of the forgotten user's history, in retrained-model standard deviations (negative = fits better)",
        "",
    )
    figure.update_layout(height=200 + 55 * len(_rows(result, kind)))
    return figure
