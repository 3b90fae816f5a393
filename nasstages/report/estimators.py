"""The estimator diagnosis rendered: tables (Markdown, LaTeX) and the rank-vs-rank figure of the rows
``nasstages.analysis.estimators`` computes."""

from __future__ import annotations

import math
from typing import Any

from nasstages.analysis.ranking import FRACTIONS

def predictor_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The diagnosis rows of a predictor evaluation (``nasstages predictors evaluate``): one per
    (model, training proportion), metrics averaged over seeds, τ's std over seeds kept."""
    rows = []
    for entry in record["summary"]:
        row = {key: value for key, value in entry.items() if not key.endswith("_std")}
        row["estimator"] = f"{entry['model']} @ {100 * entry['proportion']:g}% ({entry['train_archs']} archs)"
        target = entry.get("target", "mean")
        row["data"] = f"{entry['seeds']} seeds, test half" + ("" if target == "mean" else f", target {target}")
        if entry.get("subset") == "fixed":
            row["data"] += f", {entry['subsets']} fixed subsets"
        row["seconds"] = entry["fit_seconds"]
        row["kendall_tau_std"] = entry.get("kendall_tau_std")
        row["n"] = entry.get("n", entry.get("test_archs"))
        rows.append(row)
    return rows


COLUMNS = ["kendall_tau", "kendall_tau_std", "spearman", *[f"P@top{f * 100:g}%" for f in FRACTIONS],
           *[f"P@bottom{f * 100:g}%" for f in FRACTIONS], "BR@1%", "WR@1%", "BR@5%", "WR@5%",
           "bias_params", "bias_free_ops"]
HEADER = ["Estimator", "cells", "τ", "τ std", "ρ", *[f"P@top {f * 100:g}%" for f in FRACTIONS], *[f"P@bot {f * 100:g}%" for f in FRACTIONS],
          "BR@1%", "WR@1%", "BR@5%", "WR@5%", "bias #params", "bias #free ops", "data", "time (s)"]


def _fmt(value: float, column: str = "") -> str:
    """Three decimals; BR/WR rankings as percentages (the best of 15,625 is 0.0064%)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:.2g}%" if column.startswith(("BR@", "WR@")) else f"{value:.3f}"


def _caption(rows: list[dict[str, Any]], context: dict[str, Any]) -> str:
    return (f"Estimators on {context['benchmark']} {context['dataset']}, pool {context['pool']} "
            f"({int(rows[0]['n'])} architectures), against the 200-epoch mean validation accuracy; cells: architectures "
            "ranked (predictors: the held-out test half, trained on the given number of the training half). τ Kendall, "
            "τ std: over seeds (proxies: initialization and minibatch; predictors: training; – for one seed, and for "
            "#params and FLOPs, which do not depend on it), ρ Spearman; "
            "P@top/bot K: share of the true best/worst K% among the estimator's best/worst K%; BR@K / WR@K: best / "
            "worst true ranking (percentile, lower is better) among the estimator's top K%; bias: Spearman correlation "
            "of the rank error (true − estimated ranking) with #params and with the number of parameter-free ops "
            "(skip, avg pool): > 0 means the estimator over-ranks larger / more parameter-free architectures. "
            "Architectures an estimator cannot score rank last. Data: which minibatch the proxy saw.")


def estimator_markdown(rows: list[dict[str, Any]], context: dict[str, Any]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|---|" + "---:|" * (len(HEADER) - 3) + "---|---:|"]
    for row in rows:
        lines.append(f"| {row['estimator']} | {int(row['n'])} | " + " | ".join(_fmt(row.get(c), c) for c in COLUMNS)
                     + f" | {row['data']} | {row['seconds']:.1f} |")
    return "\n".join(lines) + "\n\n" + _caption(rows, context) + "\n"


def estimator_latex(rows: list[dict[str, Any]], context: dict[str, Any]) -> str:
    def tex(text: str) -> str:
        return (text.replace("%", "\\%").replace("τ", "$\\tau$").replace("ρ", "$\\rho$").replace("#", "\\#")
                .replace("–", "--").replace("−", "$-$"))

    lines = ["\\begin{table}[t]", "\\centering", "\\scriptsize", f"\\caption{{{tex(_caption(rows, context))}}}",
             "\\label{tab:estimators}", "\\begin{tabular}{l" + "c" * (len(HEADER) - 1) + "}", "\\toprule",
             " & ".join(tex(h) for h in HEADER) + " \\\\", "\\midrule"]
    for row in rows:
        lines.append(" & ".join([tex(row["estimator"]).replace("_", "\\_"), str(int(row["n"])),
                                 *[tex(_fmt(row.get(c), c)) for c in COLUMNS],
                                 tex(row["data"]), f"{row['seconds']:.1f}"]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def plot_rank_scatter(rows: list[dict[str, Any]], context: dict[str, Any], out_stem) -> list:
    """One panel per estimator: its ranking of each architecture against the true ranking."""
    from nasstages.report.figures import plt, save_figure

    cols = min(4, len(rows))
    nrows = -(-len(rows) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.0 * cols, 3.0 * nrows), squeeze=False, constrained_layout=True)
    for ax, row in zip(axes.flat, rows):
        ax.scatter(row["true_rank"], row["estimated_rank"], s=2, alpha=0.4, linewidths=0)
        ax.plot([0, 1], [0, 1], color="black", linewidth=0.6)
        ax.set_title(f"{row['estimator'][:28]}\nτ = {row['kendall_tau']:.3f}", fontsize="small")
        ax.set_xlabel("true ranking")
        ax.set_ylabel("estimated ranking")
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    fig.suptitle(f"{context['benchmark']} {context['dataset']}, pool {context['pool']}", fontsize="small")
    return save_figure(fig, out_stem)
