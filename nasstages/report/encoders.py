"""Tables of encoder and predictor quality, beside the numbers their papers publish."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from nasstages.report.names import benchmark_name, dataset_name

# arch2vec (Yan et al. 2020), Table 1, NAS-Bench-201: reconstruction accuracy, validity, uniqueness (%)
PUBLISHED_ARCH2VEC = {"nb201": (100.0, 79.41, 98.72)}
# GATES (Ning et al. 2020), Table 2, NAS-Bench-201 Kendall's tau at 0.1%, 0.5%, 1%, 5%, 10% of the cells
PUBLISHED_GATES_TAU = {0.001: 0.4309, 0.005: 0.6702, 0.01: 0.7571, 0.05: 0.8583, 0.1: 0.8823}
# TA-GATES (Ning, Zhou et al. 2022), NAS-Bench-201 Kendall's tau, same protocol (proportions of a 7,813-cell half)
PUBLISHED_TAGATES_TAU = {0.001: 0.5382, 0.005: 0.6707, 0.01: 0.7731, 0.05: 0.8660, 0.1: 0.8890}
PUBLISHED_TAU = {"GATES": PUBLISHED_GATES_TAU, "TA-GATES": PUBLISHED_TAGATES_TAU}
TARGET_NAMES = {"first_seed": "first seed"}


def _read(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    return [json.loads(Path(p).read_text()) | {"_path": str(p)} for p in paths]


def _reference_counting(samples: dict[str, Any]) -> str:
    if "validity_reference" not in samples:  # a space with its own validity, or metrics made before the column
        return "—"
    return f"{100 * samples['validity_reference']:.2f} / {100 * samples['uniqueness_reference']:.2f}"


def encoder_markdown(metric_paths: Iterable[str | Path], quality_paths: Iterable[str | Path]) -> str:
    """Model quality (reconstruction, decoded samples) and representation quality (GP, random walks)."""
    lines = ["## Encoders: model quality", "",
             "| Space | Encoder | Held-out reconstruction % | Validity % | Uniqueness % "
             "| Validity / uniqueness, arch2vec code's counting % | Validity, N(0, I) prior % "
             "| Published (rec. / valid / unique) | Training |",
             "|---|---|---:|---:|---:|---:|---:|---|---|"]
    for record in _read(metric_paths):
        m, cfg = record["metrics"], record["config"]
        space = record["provenance"]["config"]["space"]
        encoder = record["provenance"]["config"]["encoder"]
        published = PUBLISHED_ARCH2VEC.get(space)
        lines.append(
            f"| {space} | {encoder} | {100 * m['reconstruction_holdout']['graph']:.2f} "
            f"| {100 * m['samples_fitted']['validity']:.2f} | {100 * m['samples_fitted']['uniqueness']:.2f} "
            f"| {_reference_counting(m['samples_fitted'])} "
            f"| {100 * m['samples_standard']['validity']:.2f} "
            f"| {' / '.join(f'{v:.2f}' for v in published) if published else '—'} "
            f"| {cfg['epochs']} epochs on {m['cells'] - m['holdout_cells']} cells, {m['train_seconds']:.0f} s "
            f"({m['device']}) |")
    lines += ["", "Reconstruction: held-out cells whose every op and edge decode right from μ. Validity and "
              "uniqueness: 10,000 latents drawn per node position from a Gaussian fitted to the training cells' "
              "posterior means (the arch2vec code's convention); on fixed-skeleton spaces the ops decide validity. "
              "The arch2vec code's counting (its published NB201 numbers): node 1's op is not checked and "
              "uniqueness hashes the decoded edges too (fixed-skeleton spaces only).", ""]
    qualities = _read(quality_paths)
    if qualities:
        lines += ["## Encoders: representation quality", "",
                  "| Space | Encoder | Benchmark / dataset | GP RMSE | GP Pearson r | One-hot GP RMSE | One-hot GP r "
                  "| L2 by edit distance 1, 2, … (random walks) | Monotone |",
                  "|---|---|---|---:|---:|---:|---:|---|---|"]
        for q in qualities:
            gp, base = q["gp"][q["encoder"]], q["gp"]["one_hot"]
            walk = ", ".join(f"{v:.2f}" for v in q["random_walk_l2_by_edit"].values())
            space = q["provenance"]["config"]["embeddings"].split("/")[-2]
            lines.append(
                f"| {space} | {q['encoder']} | {benchmark_name(q['benchmark'])} / {dataset_name(q['dataset'])} "
                f"| {gp['rmse']:.3f} ± {gp['rmse_std']:.3f} | {gp['pearson']:.3f} ± {gp['pearson_std']:.3f} "
                f"| {base['rmse']:.3f} | {base['pearson']:.3f} | {walk} | {'yes' if q['random_walk_monotone'] else 'no'} |")
        p = qualities[0]["params"]
        lines += ["", f"GP (squared-exponential kernel on L2 distances) fit on {p['gp_train']} random cells, scored "
                  f"on every other cell above {p['threshold']:g}% accuracy, mean ± std over {p['gp_seeds']} seeds; "
                  f"random walks: {p['walks']} walks of {p['steps']} single mutations.", ""]
    return "\n".join(lines)


def _spread_key(row: dict[str, Any], key: str) -> str:
    """The ± a summary row shows: the std over subsets of a subset's seed mean for fixed training
    subsets (the spread the reference's one subset carries), the std over seeds otherwise."""
    return f"{key}_subset_std" if row.get("subset") == "fixed" else f"{key}_std"


def _model_label(row: dict[str, Any]) -> str:
    """A model's name with what sets its row apart: a target other than the mean, fixed subsets."""
    notes = []
    if row.get("target", "mean") != "mean":
        notes.append(f"target: {TARGET_NAMES[row['target']]}")
    if row.get("subset") == "fixed":
        notes.append(f"{row['subsets']} fixed subsets")
    return row["model"] + (f" ({', '.join(notes)})" if notes else "")


def predictor_markdown(paths: Iterable[str | Path]) -> str:
    """Kendall's tau and precision at the top, per model and training proportion (GATES protocol)."""
    lines: list[str] = []
    for record in _read(paths):
        summary = record["summary"]
        proportions = list(dict.fromkeys(row["proportion"] for row in summary))
        models = list(dict.fromkeys(row["model"] for row in summary))
        cell = {(row["model"], row["proportion"]): row for row in summary}
        cells_at = {row["proportion"]: row["train_archs"] for row in reversed(summary)}
        top_key = next(k for k in summary[0] if k.startswith("precision_top") and not k.endswith("_std"))
        header = " | ".join(f"{100 * p:g}% ({cells_at[p]})" for p in proportions)
        title = f"{benchmark_name(record['benchmark'])} / {dataset_name(record['dataset'])}"
        for label, key in (("Kendall's tau", "kendall_tau"), (f"P@top{100 * record['top']:g}%", top_key)):
            lines += [f"## Predictors, {title}: {label}", "", f"| Model | {header} |",
                      "|---|" + "---:|" * len(proportions)]
            for model in models:
                rows = [cell.get((model, p)) for p in proportions]
                values = " | ".join("—" if row is None else f"{row[key]:.4f} ± {row[_spread_key(row, key)]:.4f}"
                                    for row in rows)
                lines.append(f"| {_model_label(next(row for row in rows if row is not None))} | {values} |")
            if key == "kendall_tau" and record["benchmark"] == "nb201" and record.get("split", "all") == "half":
                for label, published in PUBLISHED_TAU.items():
                    lines.append(f"| {label} (published) | " + " | ".join(
                        f"{published[p]:.4f}" if p in published else "—" for p in proportions) + " |")
            lines.append("")
        seeds = summary[0]["seeds"]
        lines += ["Targets: each cell's validation accuracy averaged over its training seeds, unless the model names "
                  "another (first seed: one training run's, for both training and scoring).", ""]
        if any(row.get("subset") == "fixed" for row in summary):
            lines += ["Fixed subsets: every seed trains on the same cells, the first ones of one random order of the "
                      "training cells (a smaller proportion's cells begin a larger one's), as the reference code takes "
                      "the first cells of its data file; ± is the std over the subsets of a subset's seed mean, the "
                      "spread a single subset's result carries. Other models draw new cells with every seed.", ""]
        if record.get("split", "all") == "half":
            test = summary[0]["test_archs"]
            lines += [f"Trained on the given proportion (cell count) of a fixed training half of the {record['cells']:,} "
                      f"cells, scored on the other {test:,} (the GATES / TA-GATES protocol); mean ± std over "
                      f"{seeds} seeds.", ""]
        else:
            lines += [f"Trained on the given fraction (cell count) of all {record['cells']:,} cells, scored on all the "
                      f"others; mean ± std over {seeds} seeds.", ""]
    return "\n".join(lines)


def plot_predictor_curves(record: dict[str, Any], out_stem: Path) -> list[Path]:
    """Kendall's τ and P@top-K against the training proportion, one line per model (mean ± std over
    seeds; fixed subsets: over subsets), published τ values dashed."""
    from nasstages.report.figures import plt, save_figure

    summary = record["summary"]
    top_key = next(k for k in summary[0] if k.startswith("precision_top") and not k.endswith("_std"))
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.2), constrained_layout=True)
    for model in dict.fromkeys(row["model"] for row in summary):
        rows = [row for row in summary if row["model"] == model]
        x = [100 * row["proportion"] for row in rows]
        for ax, key in zip(axes, ("kendall_tau", top_key)):
            ax.errorbar(x, [row[key] for row in rows], yerr=[row[_spread_key(row, key)] for row in rows], marker="o",
                        markersize=3, capsize=2, label=_model_label(rows[0]))
    if record["benchmark"] == "nb201" and record.get("split", "all") == "half":
        for label, published in PUBLISHED_TAU.items():
            axes[0].plot([100 * p for p in published], list(published.values()), linestyle="--", marker="x",
                         markersize=4, color="gray" if label == "GATES" else "black", label=f"{label} (published)")
    for ax, label in zip(axes, ("Kendall's τ", f"P@top {100 * record['top']:g}%")):
        ax.set_xscale("log")
        ax.set_xlabel("training proportion (%)")
        ax.set_ylabel(label)
    axes[0].legend(fontsize="x-small")
    fig.suptitle(f"{benchmark_name(record['benchmark'])} / {dataset_name(record['dataset'])}: predictors",
                 fontsize="small")
    return save_figure(fig, out_stem)
