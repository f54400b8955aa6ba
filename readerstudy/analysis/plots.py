"""The report's figures, drawn on the server with matplotlib, each as SVG and PNG.

Figures are made with `Figure` directly, never pyplot, so no global state is shared between tasks. Every
figure that can be split has panels for all cases, normal cases and abnormal cases. Point jitter is seeded,
and the SVG carries no date, so the same data draws the same files.
"""

import io
import math
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from .dataset import ABNORMAL, NORMAL, arm_name

ARM_COLOURS = {"UNAIDED": "#6b7280", "LABELS_ONLY": "#2563eb", "FULL_REASONING": "#d97706"}
PANELS = [("All cases", None), ("Normal cases", NORMAL), ("Abnormal cases", ABNORMAL)]
KIND_NAMES = {
    "false_finding": "False findings",
    "missed_finding": "Missed findings",
    "wrong_location": "Wrong location",
}
STYLE = {
    "svg.hashsalt": "readerstudy-analysis",
    "svg.fonttype": "path",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


@dataclass
class Plot:
    name: str
    title: str
    svg: str
    png: bytes


def draw_all(data, result):
    """Every figure the data allows, in report order."""
    drawers = [
        ("time-by-arm", "Active reading time per arm", _time_by_arm, not data.reads.empty),
        ("reader-lines", "Each reader's median time across arms", _reader_lines, not data.reads.empty),
        ("ratings", "Rating distributions per arm", _ratings, bool(result["ratings"]) and not data.reads.empty),
        ("accuracy", "Reader accuracy (Jaccard) per arm", _accuracy, result["accuracy"]["estimable"]),
        ("error-flags", "Share of the AI's errors the readers flagged", _error_flags, _errors_shown(result)),
    ]
    plots = []
    with matplotlib.rc_context(STYLE):
        for name, title, draw, possible in drawers:
            if possible:
                figure = draw(data, result)
                figure.suptitle(title)
                plots.append(Plot(name, title, *_render(figure)))
    return plots


def _errors_shown(result):
    audit = result["error_audit"]
    return audit["estimable"] and any(row["errors"] for row in audit["per_arm"])


def _render(figure):
    svg, png = io.StringIO(), io.BytesIO()
    figure.savefig(svg, format="svg", metadata={"Date": None}, bbox_inches="tight")
    figure.savefig(png, format="png", dpi=110, metadata={"Software": None}, bbox_inches="tight")
    return svg.getvalue(), png.getvalue()


def _panels(count, width=4.2, height=3.4):
    figure = Figure(figsize=(width * count, height), layout="constrained")
    return figure, figure.subplots(1, count, squeeze=False)[0]


def _subset(frame, case_type):
    return frame if case_type is None else frame[frame["case_type"] == case_type]


def _no_reads(axes, title):
    axes.set_title(title)
    axes.text(0.5, 0.5, "No reads", ha="center", va="center", transform=axes.transAxes, color="#6b7280")
    axes.set_xticks([])
    axes.set_yticks([])


def _arm_axis(axes, arms):
    axes.set_xticks(range(len(arms)), [arm_name(arm) for arm in arms], rotation=15)


def _time_by_arm(data, result):
    figure, axes_row = _panels(len(PANELS))
    rng = np.random.default_rng(0)
    for axes, (title, case_type) in zip(axes_row, PANELS):
        frame = _subset(data.reads, case_type)
        if frame.empty:
            _no_reads(axes, title)
            continue
        groups = [frame.loc[frame["arm"] == arm, "active_s"].to_numpy() for arm in data.arms]
        filled = [i for i, values in enumerate(groups) if values.size]
        if filled:
            axes.boxplot(
                [groups[i] for i in filled],
                positions=filled,
                widths=0.5,
                showfliers=False,
                medianprops={"color": "black"},
            )
        for i, values in enumerate(groups):
            axes.scatter(
                i + rng.uniform(-0.18, 0.18, values.size),
                values,
                s=7,
                alpha=0.45,
                color=ARM_COLOURS[data.arms[i]],
                linewidths=0,
            )
        axes.set_yscale("log")
        axes.set_title(f"{title} (n={len(frame)})")
        axes.set_ylabel("Active seconds (log scale)")
        _arm_axis(axes, data.arms)
    return figure


def _reader_lines(data, result):
    figure, axes_row = _panels(len(PANELS))
    for axes, (title, case_type) in zip(axes_row, PANELS):
        frame = _subset(data.reads, case_type)
        if frame.empty:
            _no_reads(axes, title)
            continue
        medians = frame.groupby(["reader", "arm"])["active_s"].median()
        for reader in sorted(frame["reader"].unique()):
            points = [(i, medians[(reader, arm)]) for i, arm in enumerate(data.arms) if (reader, arm) in medians]
            axes.plot(
                [x for x, _ in points],
                [y for _, y in points],
                marker="o",
                markersize=3,
                linewidth=1,
                alpha=0.8,
                label=reader,
            )
        axes.set_yscale("log")
        axes.set_title(title)
        axes.set_ylabel("Median active seconds (log scale)")
        _arm_axis(axes, data.arms)
    handles, labels = axes_row[0].get_legend_handles_labels()  # the all-cases panel has every reader
    if handles and len(handles) <= 12:
        figure.legend(handles, labels, fontsize=7, frameon=False, loc="outside right upper")
    return figure


def _ratings(data, result):
    """One column per question, one row per panel (all, normal, abnormal cases): 100% stacked score bars."""
    questions = result["ratings"]
    figure = Figure(figsize=(3.6 * len(questions), len(PANELS) * (1.2 + 0.45 * len(data.arms))), layout="constrained")
    grid = figure.subplots(len(PANELS), len(questions), squeeze=False)
    for row, (title, case_type) in enumerate(PANELS):
        for axes, question in zip(grid[row], questions):
            per_arm = question["per_arm"] if case_type is None else question["by_case_type"][case_type]
            _score_bars(axes, per_arm, len(question["scale"]))
            axes.set_title(f"{question['key'].replace('_', ' ').capitalize()}: {title.lower()}", fontsize=8)
    grid[0][-1].legend(title="Score", fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    return figure


def _score_bars(axes, per_arm, levels):
    shades = matplotlib.colormaps["RdYlGn"](np.linspace(0.1, 0.9, levels))
    for row, arm in enumerate(per_arm):
        left = 0.0
        for colour, bar in zip(shades, arm["distribution"]):
            share = bar["count"] / arm["n"] if arm["n"] else 0.0
            axes.barh(
                row,
                share,
                left=left,
                color=colour,
                edgecolor="white",
                linewidth=0.5,
                label=str(bar["score"]) if row == 0 else None,
            )
            left += share
    axes.set_yticks(range(len(per_arm)), [arm_name(a["arm"]) for a in per_arm])
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.set_xlabel("Share of reads")


def _accuracy(data, result):
    figure, axes_row = _panels(len(PANELS))
    scored = data.reads[data.reads["jaccard"].notna()]
    ai = result["ai"]
    for axes, (title, case_type) in zip(axes_row, PANELS):
        frame = _subset(scored, case_type)
        for i, arm in enumerate(data.arms):
            values = frame.loc[frame["arm"] == arm, "jaccard"]
            if values.empty:
                continue
            half_width = 1.96 * values.std(ddof=1) / math.sqrt(values.size) if values.size > 1 else 0.0
            axes.bar(i, values.mean(), yerr=half_width, capsize=4, color=ARM_COLOURS[arm], alpha=0.85)
        ai_jaccard = (
            ai.get("mean_jaccard")
            if case_type is None
            else ai.get("by_case_type", {}).get(case_type, {}).get("mean_jaccard")
        )
        if ai_jaccard is not None:
            axes.axhline(ai_jaccard, color="black", linestyle="--", linewidth=1, label="AI alone")
            axes.legend(fontsize=7, frameon=False, loc="lower right")
        axes.set_ylim(0, 1.05)
        axes.set_title(f"{title} (n={len(frame)})")
        axes.set_ylabel("Mean Jaccard (95% CI)")
        _arm_axis(axes, data.arms)
    return figure


def _error_flags(data, result):
    audit = result["error_audit"]
    figure, axes_row = _panels(len(PANELS))
    kinds = audit["audited_categories"]
    for axes, (title, case_type) in zip(axes_row, PANELS):
        summaries = audit["per_arm"] if case_type is None else audit["by_case_type"][case_type]
        width = 0.8 / len(summaries)
        for j, summary in enumerate(summaries):
            for i, kind in enumerate(kinds):
                counts = summary["by_kind"][kind]
                share = counts["share"] or 0.0
                x = i - 0.4 + width * (j + 0.5)
                axes.bar(
                    x,
                    share,
                    width=width * 0.95,
                    color=ARM_COLOURS[summary["arm"]],
                    label=arm_name(summary["arm"]) if i == 0 else None,
                )
                axes.annotate(
                    f"{counts['flagged']}/{counts['errors']}", (x, share), ha="center", va="bottom", fontsize=6
                )
        axes.set_xticks(range(len(kinds)), [KIND_NAMES[kind] for kind in kinds], rotation=15)
        axes.set_ylim(0, 1.1)
        axes.set_ylabel("Share of AI errors flagged")
        axes.set_title(title)
    axes_row[-1].legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    return figure
