"""The one search loop: budget accounting, per-query logging, checkpoints and resume.

Every method runs through :func:`run_search`, so budgets, incumbent rules and log columns are
identical across methods. The incumbent is the architecture with the best *observed*
validation accuracy so far (what a practitioner could know); its noise-free mean accuracy is
logged beside it for plotting, as in the NAS-Bench-201 protocol.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nasstages.benchmarks.base import Benchmark
from nasstages.io import sha256_file, write_json_atomic, write_text_atomic
from nasstages.provenance import code_sha256, config_hash, package_versions, provenance
from nasstages.rng import job_seed_sequence
from nasstages.search import make_optimizer
from nasstages.search.query_rule import QueryRule

log = logging.getLogger(__name__)

COLUMNS = (
    "step", "arch", "observed_acc", "mean_acc", "seed_slot",
    "incumbent_arch", "incumbent_observed_acc", "incumbent_mean_acc",
    "sim_time_s", "elapsed_s", "predicted_acc", "predicted_std", "surrogate_s",
)
NO_PREDICTION = {"predicted_acc": float("nan"), "predicted_std": float("nan"), "surrogate_s": 0.0}


@dataclass(frozen=True)
class SearchJob:
    """What identifies one search run; everything that can change its result is here."""

    benchmark: str
    dataset: str
    method: str
    seed: int
    budget: int
    global_seed: int = 0
    noise: str = "sample"
    batch_size: int = 1
    query_rule: str = "string"
    params: dict[str, Any] = field(default_factory=dict)

    def identity(self) -> tuple[Any, ...]:
        return (self.benchmark, self.dataset, self.method, self.seed)


@dataclass
class _Progress:
    rows: list[dict[str, Any]]
    sim_time_s: float = 0.0
    elapsed_before_s: float = 0.0
    incumbent: tuple[str, float, float] | None = None  # arch, observed, mean
    replacements: int = 0  # proposals the query rule rejected so far


def _rows_to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def run_search(
    job: SearchJob,
    bench: Benchmark,
    out_csv: str | Path,
    *,
    checkpoint_every: int = 25,
    show_progress: bool = True,
    stop_after: int | None = None,
    reuse_finished: bool = True,
    keep_final_checkpoint: bool = False,
) -> Path:
    """Run ``job`` on ``bench``, writing ``out_csv`` and ``<out_csv stem>.json`` (provenance).

    A checkpoint ``<stem>.ckpt.json`` is written every ``checkpoint_every`` queries and resumed
    from if it belongs to the same job config; the resumed run is identical to an uninterrupted
    one. A finished run already at ``out_csv`` is kept untouched when :func:`finished_by` says
    this code and config made it (``reuse_finished``). ``keep_final_checkpoint`` leaves the
    finished run's outputs in the checkpoint too, for a caller that runs several seeds in one job:
    Snakemake deletes every output of a job that fails, so a seed finished before a later one was
    killed is restored from there (:func:`_restore_finished`) instead of rerun; that caller
    deletes the checkpoints once all its seeds are written. ``stop_after`` (for tests) interrupts
    after that many queries, as a killed job would.
    """
    out_csv = Path(out_csv)
    meta_path = out_csv.with_suffix(".json")
    ckpt_path = out_csv.with_suffix(".ckpt.json")
    bench.check_dataset(job.dataset)
    job_config = {**asdict(job), "benchmark_content_sha256": bench.content_sha256,
                  "input_sha256": input_checksums(job.params)}
    job_hash = config_hash(job_config)
    if reuse_finished and finished_by(out_csv, job_hash):
        log.info("kept %s: finished by this very code, packages and job config (CSV checksum verified)", out_csv)
        return out_csv
    if reuse_finished and _restore_finished(ckpt_path, job_hash, out_csv):
        return out_csv

    optimizer_seq, noise_seq = job_seed_sequence(job.global_seed, *job.identity()).spawn(2)
    optimizer = make_optimizer(job.method, bench.space, np.random.default_rng(optimizer_seq), job.params)
    noise_rng = np.random.default_rng(noise_seq)
    rule = QueryRule(job.query_rule, bench.space)
    optimizer.query_rule = rule
    state = _Progress(rows=[])
    if ckpt_path.exists():
        state = _resume(ckpt_path, job_hash, optimizer, noise_rng) or state
        rule.record(bench.space.from_string(row["arch"]) for row in state.rows)
        rule.replacements = state.replacements

    space = bench.space
    started = time.perf_counter()
    bar = _progress_bar(job, len(state.rows), show_progress)
    while len(state.rows) < job.budget:
        n = min(optimizer.batch_size or job.batch_size, job.budget - len(state.rows))
        archs, replaced = _enforce(rule, optimizer, optimizer.ask(n))
        info = list(optimizer.proposal_info or [NO_PREDICTION] * len(archs))
        for k in replaced:  # the model's prediction was for the rejected proposal
            info[k] = NO_PREDICTION
        rule.record(archs)
        evaluations = [bench.query(a, job.dataset, noise_rng, job.noise) for a in archs]
        optimizer.tell(archs, evaluations)
        for arch, evaluation, predicted in zip(archs, evaluations, info):
            text = space.to_string(arch)
            mean = bench.mean_valid(arch, job.dataset)
            state.sim_time_s += evaluation.cost_s
            if state.incumbent is None or evaluation.valid_acc > state.incumbent[1]:
                state.incumbent = (text, evaluation.valid_acc, mean)
            state.rows.append({
                "step": len(state.rows) + 1, "arch": text,
                "observed_acc": evaluation.valid_acc, "mean_acc": mean, "seed_slot": evaluation.seed_slot,
                "incumbent_arch": state.incumbent[0], "incumbent_observed_acc": state.incumbent[1],
                "incumbent_mean_acc": state.incumbent[2], "sim_time_s": round(state.sim_time_s, 3),
                "elapsed_s": round(state.elapsed_before_s + time.perf_counter() - started, 4),
                **{key: predicted.get(key, NO_PREDICTION[key]) for key in NO_PREDICTION},
            })
        bar.update(len(archs))
        done = len(state.rows)
        if checkpoint_every and done < job.budget and done // checkpoint_every != (done - len(archs)) // checkpoint_every:
            _checkpoint(ckpt_path, job_hash, optimizer, noise_rng, state, started)
        if stop_after is not None and done >= stop_after and done < job.budget:
            _checkpoint(ckpt_path, job_hash, optimizer, noise_rng, state, started)
            raise KeyboardInterrupt(f"stopped after {done} queries (stop_after)")
    bar.close()

    csv_text = _rows_to_csv(state.rows)
    write_text_atomic(out_csv, csv_text)
    meta = provenance(job_config)
    meta.update({
        "csv_sha256": hashlib.sha256(csv_text.encode("utf-8")).hexdigest(),
        "optimum": bench.optimum(job.dataset),
        "split": bench.split(job.dataset),
        "final": {k: state.rows[-1][k] for k in ("incumbent_arch", "incumbent_observed_acc", "incumbent_mean_acc")},
        "csv": out_csv.name,
        "optimizer": optimizer.summary(),
        "protocol": {**rule.record_of(), "noise": job.noise, "budget": job.budget, "batch_size": job.batch_size,
                     "incumbent": "best observed validation accuracy so far", "split": bench.split(job.dataset)},
    })
    write_json_atomic(meta_path, meta)
    if keep_final_checkpoint:
        write_json_atomic(ckpt_path, {"job_hash": job_hash, "finished": {"csv": csv_text, "meta": meta}})
    elif ckpt_path.exists():
        ckpt_path.unlink()
    return out_csv


def _restore_finished(ckpt_path: Path, job_hash: str, out_csv: Path) -> bool:
    """Write ``out_csv`` and its JSON back from a finished run's checkpoint, if this code and
    these packages made it for this job and its CSV matches its checksum."""
    try:
        saved = json.loads(ckpt_path.read_text()) if ckpt_path.exists() else {}
    except (OSError, ValueError):
        return False
    finished = saved.get("finished")
    if not finished or saved.get("job_hash") != job_hash:
        return False
    meta, csv_text = finished["meta"], finished["csv"]
    if _not_made_here(meta, job_hash, csv_text.encode("utf-8")):
        return False
    write_text_atomic(out_csv, csv_text)
    write_json_atomic(out_csv.with_suffix(".json"), meta)
    log.info("kept %s: restored from the checkpoint of its finished run (this very code, packages and job "
             "config; CSV checksum verified)", out_csv)
    return True


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(job: SearchJob, done: int, show: bool):
    """tqdm's bar, imported only when shown (~30 ms of a quiet search job's start-up)."""
    if not show:
        return _NoProgress()
    from tqdm import tqdm

    return tqdm(total=job.budget, initial=done, mininterval=1.0, desc=f"{job.method} {job.dataset} seed{job.seed}")


INPUT_FILE_PARAMS = (("distance_matrix",), ("embeddings",), ("zs_prefilter", "scores"))


def input_checksums(params: dict[str, Any]) -> dict[str, str]:
    """SHA-256 of every input file a method's params name (matrix, embeddings, proxy scores), so a
    job's identity — its checkpoint, its finished result — covers their content, not their paths."""
    out = {}
    for keys in INPUT_FILE_PARAMS:
        value: Any = params
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if value:
            out[".".join(keys)] = _matrix_sha256(str(value)) if keys == ("distance_matrix",) else _file_sha256(str(value))
    return out


def _matrix_sha256(path: str) -> str:
    """A merged matrix's content (distances and architecture list), not its file's bytes: a matrix
    merged again from other tiles (``tiles`` changed) or with new provenance is the same input."""
    from nasstages.distances.store import MatrixRows, pool_checksum

    try:
        matrix = MatrixRows(path)
    except Exception:  # noqa: BLE001 - the method's own reader reports the damage with its fix
        return "unreadable"
    return f"{matrix.content_sha256}:{pool_checksum(matrix.archs)}"


_FILE_SHA: dict[tuple[str, int, int], str] = {}


def _file_sha256(path: str) -> str:
    """A file's SHA-256, computed once per process and file version (seeds of a job share inputs)."""
    try:
        stat = Path(path).stat()
    except OSError:
        return "missing"  # the method's own reader names the missing file
    key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _FILE_SHA:
        _FILE_SHA[key] = sha256_file(path)
    return _FILE_SHA[key]


def finished_by(out_csv: Path, job_hash: str) -> bool:
    """Whether ``out_csv`` and its JSON are a finished run of the job ``job_hash`` made by this
    very code (source checksum) and these package versions, its CSV intact (checksum).

    Runs are deterministic given all of that, so recomputing such a run would write the same
    queries: the workflow's multi-seed jobs use this to leave finished seeds untouched when a job
    reruns (seeds added, a killed job restarted).
    """
    meta_path = out_csv.with_suffix(".json")
    if not (out_csv.exists() and meta_path.exists()):
        return False
    try:
        meta = json.loads(meta_path.read_text())
        raw = out_csv.read_bytes()
    except (OSError, ValueError):
        return False
    differing = _not_made_here(meta, job_hash, raw)
    if differing:
        log.info("recomputing %s: its %s differ(s)", out_csv, ", ".join(differing))
        return False
    return True


def _not_made_here(meta: dict[str, Any], job_hash: str, csv_bytes: bytes) -> list[str]:
    """What in a finished run's record differs from this job run by this code (empty: nothing)."""
    checks = {"job config": meta.get("config_hash") == job_hash,
              "code": meta.get("code_sha256") == code_sha256(),
              "package versions": meta.get("versions") == package_versions(),
              "CSV checksum": meta.get("csv_sha256") == hashlib.sha256(csv_bytes).hexdigest()}
    return [name for name, ok in checks.items() if not ok]


def _enforce(rule: QueryRule, optimizer: Any, archs: list) -> tuple[list, list[int]]:
    """``archs`` with every proposal the rule rejects replaced by the method (its :meth:`replace`),
    and the positions replaced."""
    pending: set = set()
    out = []
    replaced = []
    for position, arch in enumerate(archs):
        if not rule.allows(arch, pending):
            rule.replacements += 1
            replaced.append(position)
            arch = optimizer.replace(arch, set(pending))
            if not rule.allows(arch, pending):
                raise RuntimeError(f"{type(optimizer).__name__}.replace proposed {rule.space.to_string(arch)!r}, "
                                   f"which the {rule.name!r} query rule forbids (a bug in the method)")
        if rule.name != "none":
            pending.add(rule.key(arch))
        out.append(arch)
    return out, replaced


def _checkpoint(path: Path, job_hash: str, optimizer: Any, noise_rng: np.random.Generator,
                state: _Progress, started: float) -> None:
    write_json_atomic(path, {
        "job_hash": job_hash,
        "optimizer": optimizer.state_dict(),
        "noise_rng": noise_rng.bit_generator.state,
        "rows": state.rows,
        "sim_time_s": state.sim_time_s,
        "elapsed_s": state.elapsed_before_s + time.perf_counter() - started,
        "incumbent": state.incumbent,
        "replacements": optimizer.query_rule.replacements,
    })


def _resume(path: Path, job_hash: str, optimizer: Any, noise_rng: np.random.Generator) -> _Progress | None:
    """Load a checkpoint of this very job; a stale or unreadable one is ignored (and logged)."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable checkpoint %s (%s); starting over", path, exc)
        return None
    if saved.get("job_hash") != job_hash:
        log.warning("ignoring checkpoint %s of a different job config; starting over", path)
        return None
    optimizer.load_state_dict(saved["optimizer"])
    noise_rng.bit_generator.state = saved["noise_rng"]
    log.info("resuming %s at query %d", path, len(saved["rows"]))
    incumbent = tuple(saved["incumbent"]) if saved["incumbent"] else None
    return _Progress(rows=saved["rows"], sim_time_s=saved["sim_time_s"],
                     elapsed_before_s=saved["elapsed_s"], incumbent=incumbent,
                     replacements=int(saved.get("replacements", 0)))  # type: ignore[arg-type]
