"""The DARTS-space table, in the layout of NAS papers on DARTS: per method, the search's best
validation error, the test error of its best genotypes retrained with the final protocol, their
size and the search cost."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable

import numpy as np

from nasstages.report.names import dataset_name, method_name
from nasstages.report.trajectories import MethodRuns, mean_and_se

def _pm(values: Iterable[float]) -> str:
    values = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if len(values) == 0:
        return "–"
    mean, se = mean_and_se(values[:, None])
    return f"{mean[0]:.2f}" if math.isnan(se[0]) else f"{mean[0]:.2f} ± {se[0]:.2f}"


def _rows(runs: list[MethodRuns], evaluations: list[dict]) -> list[tuple[str, str, list[str]]]:
    rows = []
    for run in runs:
        evals = [e for e in evaluations if e["config"]["dataset"] == run.dataset
                 and Path(e["config"]["search_csv"]).parts[-2] == run.method]
        search_error = 100.0 - run.incumbent_mean_acc[:, -1]
        test_error = [100.0 - e["test_acc"] for e in evals]
        params = [e["params"] / 1e6 for e in evals]
        search_minutes = run.elapsed_s / 60.0
        rows.append((dataset_name(run.dataset), method_name(run.method), [
            _pm(search_error), _pm(test_error), f"{min(test_error):.2f}" if test_error else "–",
            _pm(params), _pm(search_minutes), f"{len(run.seeds)} / {len(evals)}"]))
    return rows


HEADER = ["Dataset", "Method", "Search valid error (%)", "Test error (%)", "Best test error (%)", "Params (M)",
          "Search cost (min)", "Searches / final trainings"]


def _caption(runs: list[MethodRuns], evaluations: list[dict]) -> str:
    budgets = sorted({run.incumbent_mean_acc.shape[1] for run in runs})
    protocol = evaluations[0]["config"]["protocol"] if evaluations else {}
    final = (f"retrained from scratch with the final protocol ({protocol.get('epochs')} epochs, "
             f"{protocol.get('channels')} channels, {protocol.get('layers')} cells)") if protocol else "not retrained yet"
    return (f"DARTS space: each search ({'/'.join(map(str, budgets))} queries, each query a training run under the "
            f"search protocol) keeps its best genotype by validation accuracy on a held-out part of the training "
            f"set; that genotype is {final} and tested on the test set. Mean ± standard error over searches "
            "(search error, cost) and over all final trainings (test error, params); search cost is the real "
            "wall-clock of a search run on the hardware that ran it.")


def darts_markdown(runs: list[MethodRuns], evaluations: list[dict]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|---|---|" + "---:|" * (len(HEADER) - 2)]
    lines += [f"| {d} | {m} | " + " | ".join(cells) + " |" for d, m, cells in _rows(runs, evaluations)]
    return "\n".join(lines) + "\n\n" + _caption(runs, evaluations) + "\n"


def darts_latex(runs: list[MethodRuns], evaluations: list[dict]) -> str:
    def tex(text: str) -> str:
        return text.replace("±", "$\\pm$").replace("%", "\\%").replace("–", "--")

    lines = ["\\begin{table}[t]", "\\centering", f"\\caption{{{tex(_caption(runs, evaluations))}}}",
             "\\label{tab:darts_final}", "\\begin{tabular}{ll" + "c" * (len(HEADER) - 2) + "}", "\\toprule",
             " & ".join(tex(h) for h in HEADER) + " \\\\", "\\midrule"]
    lines += [" & ".join([d, m] + [tex(c) for c in cells]) + " \\\\" for d, m, cells in _rows(runs, evaluations)]
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def load_evaluations(paths: Iterable[str | Path]) -> list[dict]:
    return [json.loads(Path(p).read_text()) for p in paths]
