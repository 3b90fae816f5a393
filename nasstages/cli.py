"""The ``nasstages`` command: one subcommand per pipeline stage; Snakemake rules only call these.

User mistakes (NasstagesError) print one clear message and exit with status 2, no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from nasstages.devices import resolve_device
from nasstages.errors import ConfigError, NasstagesError

log = logging.getLogger("nasstages")


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, e.g. '{\"population_size\": 50}'")
    return value


def _optional_path(text: str) -> Path | None:
    return None if text in ("", "None", "null") else Path(text)


def cmd_benchmarks_fetch(args: argparse.Namespace) -> None:
    from nasstages.benchmarks import Sources, fetch_store

    started = time.perf_counter()
    kind = fetch_store(Sources(benchmark=args.benchmark, mirror=args.mirror, official=args.official, data=args.data,
                               datasets=tuple(args.datasets), md5=dict(args.md5 or {})), args.out)
    log.info("wrote %s from %s source in %.1f s", args.out, kind, time.perf_counter() - started)


def cmd_sample(args: argparse.Namespace) -> None:
    from nasstages.pools import sample_pool, write_pool

    if args.size < 1:
        raise ConfigError(f"sample: --size must be at least 1, not {args.size} (an empty pool serves no stage)")
    pool = sample_pool(args.space, args.size, args.global_seed, args.name, args.dedup)
    config = {"space": args.space, "pool": args.name, "size": args.size, "dedup": args.dedup,
              "global_seed": args.global_seed}
    write_pool(args.out, pool, config)
    log.info("wrote pool %s: %d architectures (%d isomorphism classes)", args.out, len(pool.archs), len(set(pool.hashes)))


def cmd_search(args: argparse.Namespace) -> None:
    """Run one search per ``--seed`` (the i-th seed writes the i-th ``--out``) in one process.

    Several seeds per process because on a tabular benchmark a run costs about as much as the
    interpreter start, the imports and the store load that it would otherwise repeat.
    """
    # a search job holds one core (the rule's threads: 1); without this, torch-based methods start
    # a thread per core and parallel jobs oversubscribe the machine. Set before torch is imported.
    # numpy's BLAS reads its thread count when numpy is first imported (here: the CLI imports it
    # no earlier); threads on n <= 150 GP matrices only cost, and oversubscribe parallel jobs
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(name, str(args.threads))
    from nasstages.io import exclusive_outputs
    from nasstages.search.runner import SearchJob

    if len(args.seed) != len(args.out):
        raise ConfigError(f"search: {len(args.seed)} --seed values but {len(args.out)} --out paths; give one "
                          "output CSV per seed, in the same order")
    if len(set(args.seed)) != len(args.seed) or len(set(args.out)) != len(args.out):
        raise ConfigError("search: every --seed and every --out must be distinct")
    jobs = [SearchJob(benchmark=args.benchmark, dataset=args.dataset, method=args.method, seed=seed,
                      budget=args.budget, global_seed=args.global_seed, noise=args.noise,
                      batch_size=args.batch_size, params=args.params, query_rule=args.query_rule)
            for seed in args.seed]
    if args.budget < 1 or args.batch_size < 1:
        raise ConfigError("--budget and --batch-size must be at least 1")
    with exclusive_outputs(list(args.out), "search"):  # before any work: a bad --out fails in milliseconds
        _run_searches(args, jobs)


def _run_searches(args: argparse.Namespace, jobs: list) -> None:
    from nasstages.benchmarks import load_benchmark
    from nasstages.search.runner import run_search

    bench = load_benchmark(args.benchmark, args.store, **args.bench_params)
    several = len(jobs) > 1  # a finished seed must survive a later seed's failure (run_search)
    for job, out in zip(jobs, args.out):
        if hasattr(bench, "set_work_dir"):  # trained queries: per-run training checkpoints beside the log
            bench.set_work_dir(out.with_suffix(".train"))
        started = time.perf_counter()
        run_search(job, bench, out, checkpoint_every=args.checkpoint_every, show_progress=not args.quiet,
                   keep_final_checkpoint=several)
        log.info("%s (%d queries) in %.2f s", out, job.budget, time.perf_counter() - started)
    for out in args.out:  # every seed written: no finished run needs its checkpoint any more
        out.with_suffix(".ckpt.json").unlink(missing_ok=True)


def cmd_evaluate(args: argparse.Namespace) -> None:
    """Final evaluation: train a search run's incumbent under the final protocol with one seed."""
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    from nasstages.evaluators.final import evaluate_incumbent
    from nasstages.io import write_json_atomic
    from nasstages.provenance import provenance

    started = time.perf_counter()
    seed = _job_seed(args.global_seed, "evaluate", args.dataset, args.replicate)  # shared by all methods
    result = evaluate_incumbent(args.search_csv, args.store, args.dataset, args.protocol, seed,
                                args.out.with_suffix(".train"), resolve_device(args.device))
    meta = provenance({"search_csv": str(args.search_csv), "dataset": args.dataset, "replicate": args.replicate,
                       "seed": seed, "global_seed": args.global_seed,
                       "protocol": result.pop("protocol"), "data_sha256": result.pop("data_sha256")})
    meta.update(result)
    write_json_atomic(args.out, meta)
    log.info("trained %s: test accuracy %.2f%% (%.2f M params) in %.1f s", args.out, result["test_acc"],
             result["params"] / 1e6, time.perf_counter() - started)


def _distance_inputs(args: argparse.Namespace):
    from nasstages.distances import make_distance
    from nasstages.pools import read_pool

    pool = read_pool(args.pool)
    if pool.space.name != args.space:
        raise ConfigError(f"pool {args.pool} is of space {pool.space.name!r}, not {args.space!r}")
    distance = make_distance(args.metric, pool.space, args.params, device=getattr(args, "device", "cpu"))
    strings = [pool.space.to_string(a) for a in pool.archs]
    return distance, pool, strings


def cmd_distances_tile(args: argparse.Namespace) -> None:
    from nasstages.distances.store import compute_tile

    distance, pool, strings = _distance_inputs(args)
    seconds = compute_tile(distance, pool.archs, strings, args.tiles, args.tile[0], args.tile[1], args.out)
    log.info("wrote %s tile (%d, %d) of %d archs in %.1f s", args.metric, args.tile[0], args.tile[1],
             len(strings), seconds)


def cmd_distances_merge(args: argparse.Namespace) -> None:
    from nasstages.distances.store import merge_tiles

    distance, pool, strings = _distance_inputs(args)
    config = {"space": args.space, "metric": args.metric, "params": distance.params(), "pool": str(args.pool),
              "tiles": args.tiles}
    merge_tiles(distance, strings, args.tiles, args.inputs, args.out, config)
    log.info("wrote %s (%d×%d)", args.out, len(strings), len(strings))


def cmd_estimate_tile(args: argparse.Namespace) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    from nasstages.evaluators.estimates import replicate_batches, tile_rows, timed_tile
    from nasstages.evaluators.proxy_names import PROXIES
    from nasstages.pools import read_pool
    from nasstages.provenance import provenance

    if args.proxy not in PROXIES:
        raise ConfigError(f"unknown proxy {args.proxy!r}; choose from: {', '.join(PROXIES)}")
    pool = read_pool(args.pool)
    rows = tile_rows(len(pool.archs), args.tiles, args.tile)
    archs = [pool.archs[k] for k in rows]
    batches = replicate_batches(args.proxy, args.replicates, args.batch_size, args.global_seed, args.data,
                                args.dataset, args.md5)
    replicates = len(batches)
    config = {"space": args.space, "proxy": args.proxy, "pool": str(args.pool), "tiles": args.tiles,
              "tile": args.tile, "batch_size": args.batch_size, "data": str(args.data), "global_seed": args.global_seed,
              "replicates": replicates}
    seconds = timed_tile(args.space, archs, [pool.space.to_string(a) for a in archs], args.proxy, batches,
                         args.global_seed, args.out, resolve_device(args.device), provenance(config))
    batch = batches[0]
    log.info("scored %d archs with %s (%s) in %.1f s", len(archs), args.proxy, batch[2], seconds)


def cmd_estimate_merge(args: argparse.Namespace) -> None:
    from nasstages.evaluators.estimates import merge_estimates
    from nasstages.provenance import provenance

    merge_estimates(args.inputs, args.out, provenance({"space": args.space, "proxy": args.proxy,
                                                        "inputs": [str(p) for p in args.inputs]}))
    log.info("wrote %s", args.out)


def cmd_estimate_diagnose(args: argparse.Namespace) -> None:
    """Rank every estimator of a pool (proxies, and the benchmark's low-fidelity accuracies)
    against the 200-epoch mean validation accuracy."""
    from nasstages.analysis.estimators import diagnose_pool
    from nasstages.benchmarks import load_benchmark
    from nasstages.evaluators.estimates import read_estimates
    from nasstages.io import write_json_atomic
    from nasstages.provenance import provenance

    bench = load_benchmark(args.benchmark, args.store)
    bench.check_dataset(args.dataset)
    estimators, strings = [], None
    for path in args.estimates:
        names, scores, attrs = read_estimates(path)
        if strings is None:
            strings = names
        elif names != strings:
            raise ConfigError(f"{path} scores other architectures than {args.estimates[0]}: merge them from one pool")
        estimators.append((str(attrs["proxy"]), scores, str(attrs["data"]), float(attrs.get("seconds", 0.0))))
    out = diagnose_pool(bench, args.dataset, [bench.space.from_string(a) for a in strings], estimators)
    context = {"benchmark": args.benchmark, "dataset": args.dataset, "pool": args.pool_name}
    write_json_atomic(args.out, {**provenance({**context, "estimates": [str(p) for p in args.estimates]}),
                                 "context": context, "rows": out})
    for row in out:
        log.info("%s: Kendall tau %.3f, P@top5%% %.2f", row["estimator"], row["kendall_tau"], row["P@top5%"])


def _job_seed(global_seed: int, *identity: object) -> int:
    from nasstages.rng import job_seed_sequence

    return int(job_seed_sequence(global_seed, *identity).generate_state(1)[0])


def cmd_pretrain_arch2vec(args: argparse.Namespace) -> None:
    import torch

    from nasstages.encoders.pretrain import pretrain_arch2vec
    from nasstages.encoders.store import write_embeddings
    from nasstages.io import atomic_path, write_json_atomic
    from nasstages.provenance import provenance
    from nasstages.spaces import get_space

    space = get_space(args.space)
    device = resolve_device(args.device)
    seed = _job_seed(args.global_seed, "pretrain", args.space, "arch2vec")
    archs, cells = None, {}
    if args.cells_store:  # a space without an enumeration: the cells a benchmark's store lists
        from nasstages.benchmarks import load_benchmark

        bench = load_benchmark(args.cells_benchmark, args.cells_store)
        if bench.space.name != space.name:
            raise ConfigError(f"pretrain: {args.cells_store} is on space {bench.space.name}, not {space.name}")
        archs = bench.archs()
        cells = {"cells_store": str(args.cells_store), "cells_store_sha256": bench.content_sha256}
    trained, embeddings, metrics = pretrain_arch2vec(space, args.params, seed, device, show_progress=not args.quiet,
                                                     archs=archs)
    record = provenance({"space": args.space, "encoder": "arch2vec", "params": args.params,
                         "global_seed": args.global_seed, **cells})
    embeddings.attrs["provenance"] = record
    with atomic_path(args.out_model) as tmp:
        torch.save(trained.state(), tmp)
    write_embeddings(args.out, embeddings)
    write_json_atomic(args.out.with_suffix(".json"), {"metrics": metrics, "config": embeddings.attrs["config"],
                                                      "provenance": record})
    log.info("arch2vec on %d %s cells in %.1f s (%s): held-out reconstruction %.4f, validity %.4f, uniqueness %.4f",
             metrics["cells"], args.space, metrics["train_seconds"], device,
             metrics["reconstruction_holdout"]["graph"], metrics["samples_fitted"]["validity"],
             metrics["samples_fitted"]["uniqueness"])


def cmd_pretrain_quality(args: argparse.Namespace) -> None:
    import numpy as np

    from nasstages.benchmarks import load_benchmark
    from nasstages.encoders.pretrain import representation_quality
    from nasstages.encoders.store import read_embeddings
    from nasstages.io import write_json_atomic
    from nasstages.provenance import provenance

    bench = load_benchmark(args.benchmark, args.store)
    embeddings = read_embeddings(args.embeddings)
    if embeddings.space != bench.space.name:
        raise ConfigError(f"{args.embeddings} embeds space {embeddings.space!r}; benchmark {args.benchmark} is "
                          f"on {bench.space.name!r}")
    accuracy = np.asarray(bench.mean_valid_all(args.dataset))
    seed = _job_seed(args.global_seed, "encoder-quality", args.benchmark, args.dataset, embeddings.encoder)
    result = representation_quality(bench.space, embeddings, accuracy, args.params, seed)
    result.update({"encoder": embeddings.encoder, "benchmark": args.benchmark, "dataset": args.dataset,
                   "provenance": provenance({"embeddings": str(args.embeddings), "params": args.params,
                                             "benchmark": args.benchmark, "dataset": args.dataset,
                                             "store_sha256": bench.content_sha256, "global_seed": args.global_seed})})
    write_json_atomic(args.out, result)
    gp = result["gp"]["arch2vec"]
    log.info("%s on %s/%s: GP RMSE %.3f, Pearson r %.3f; random walk monotone: %s", embeddings.encoder,
             args.benchmark, args.dataset, gp["rmse"], gp["pearson"], result["random_walk_monotone"])


def cmd_predictors_evaluate(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from nasstages.benchmarks import load_benchmark
    from nasstages.encoders.predictor_quality import EvaluationSettings, evaluate_on_benchmark
    from nasstages.io import write_json_atomic
    from nasstages.provenance import provenance

    settings = EvaluationSettings.from_params(args.params)  # before the store is read: bad keys fail at once
    bench = load_benchmark(args.benchmark, args.store)
    base_seed = _job_seed(args.global_seed, "predictors", args.benchmark, args.dataset)
    split_seed = _job_seed(args.global_seed, "predictors", args.benchmark, "split")
    fits = settings.fits()
    with tqdm(total=fits, desc="predictor fits", disable=args.quiet) as bar:
        record = evaluate_on_benchmark(bench, args.dataset, settings, [base_seed + k for k in range(settings.seeds)],
                                       split_seed, resolve_device(args.device), progress=bar)
    record["provenance"] = provenance({"params": args.params, "benchmark": args.benchmark, "dataset": args.dataset,
                                       "store_sha256": bench.content_sha256, "global_seed": args.global_seed})
    write_json_atomic(args.out, record)
    log.info("wrote %s (%d fits)", args.out, len(record["runs"]))


def cmd_report(args: argparse.Namespace) -> None:
    from nasstages.report import write_report

    written = write_report(args.inputs, args.out_dir, args.encoder_metrics, args.encoder_quality,
                           args.predictor_metrics, args.evaluations, args.estimator_diagnosis)
    log.info("wrote %d report files under %s", len(written), args.out_dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nasstages", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    stages = parser.add_subparsers(dest="stage", required=True)

    bench = stages.add_parser("benchmarks", help="build normalized benchmark stores")
    bench_sub = bench.add_subparsers(dest="action", required=True)
    fetch = bench_sub.add_parser("fetch", help="build results/benchmarks/{benchmark}.h5 from the first working source")
    fetch.add_argument("--benchmark", "--space", dest="benchmark", required=True,
                       help="a registered benchmark (--space: its earlier name)")
    fetch.add_argument("--mirror", type=_optional_path, default=None, help="local mirror folder (tried first)")
    fetch.add_argument("--official", type=_optional_path, default=None, help="official benchmark file (tried second)")
    fetch.add_argument("--data", type=_optional_path, default=None,
                       help="darts: folder of the CIFAR python archives (or one archive)")
    fetch.add_argument("--datasets", nargs="*", default=[], help="darts: cifar10 and/or cifar100")
    fetch.add_argument("--md5", type=_json_object, default={},
                       help="darts: dataset -> md5 of a non-standard archive (default: the published sums)")
    fetch.add_argument("--out", type=Path, required=True)
    fetch.set_defaults(func=cmd_benchmarks_fetch)

    sample = stages.add_parser("sample", help="sample an architecture pool")
    sample.add_argument("--space", required=True)
    sample.add_argument("--name", required=True, help="pool name (part of its RNG identity)")
    sample.add_argument("--size", type=int, required=True)
    sample.add_argument("--dedup", default="iso", help="iso (isomorphism classes) or arch (strings)")
    sample.add_argument("--global-seed", type=int, default=0)
    sample.add_argument("--out", type=Path, required=True)
    sample.set_defaults(func=cmd_sample)

    search = stages.add_parser("search", help="run search jobs (benchmark, dataset, method; one per seed)")
    search.add_argument("--benchmark", required=True)
    search.add_argument("--store", type=Path, required=True, help="the benchmark's HDF5 store")
    search.add_argument("--dataset", required=True)
    search.add_argument("--method", required=True)
    search.add_argument("--seed", type=int, nargs="+", required=True,
                        help="one run per seed, in this order, in one process")
    search.add_argument("--budget", type=int, required=True, help="number of queries")
    search.add_argument("--params", type=_json_object, default={}, help="method parameters as a JSON object")
    search.add_argument("--global-seed", type=int, default=0)
    search.add_argument("--noise", default="sample", help="sample (one random training seed) or mean")
    search.add_argument("--batch-size", type=int, default=1)
    search.add_argument("--query-rule", default="string", choices=["string", "iso", "none"],
                        help="what counts as a repeat no method may query (see README, 'Query protocol')")
    search.add_argument("--checkpoint-every", type=int, default=25)
    search.add_argument("--quiet", action="store_true", help="no progress bar")
    search.add_argument("--bench-params", type=_json_object, default={},
                        help="benchmark options as a JSON object (darts: protocol, device)")
    search.add_argument("--threads", type=int, default=1, help="CPU threads (torch) of this job")
    search.add_argument("--out", type=Path, nargs="+", required=True,
                        help="one CSV log per --seed; provenance goes to the .json beside each")
    search.set_defaults(func=cmd_search)

    distances = stages.add_parser("distances", help="pairwise architecture distances, in tiles")
    distances_sub = distances.add_subparsers(dest="action", required=True)
    for action, helptext in (("tile", "compute one tile (i, j), i <= j, of the matrix"),
                             ("merge", "merge all tiles into results/distances/{space}/{metric}/{pool}.h5")):
        sub = distances_sub.add_parser(action, help=helptext)
        sub.add_argument("--space", required=True)
        sub.add_argument("--metric", required=True)
        sub.add_argument("--params", type=_json_object, default={}, help="metric parameters as a JSON object")
        sub.add_argument("--pool", type=Path, required=True, help="the pool's HDF5 file")
        sub.add_argument("--tiles", type=int, required=True, help="tiles per side of the matrix")
        sub.add_argument("--out", type=Path, required=True)
        if action == "tile":
            sub.add_argument("--tile", type=int, nargs=2, required=True, metavar=("I", "J"))
            sub.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                             help="GPU engine where the metric has one (auto: CUDA when present)")
            sub.set_defaults(func=cmd_distances_tile)
        else:
            sub.add_argument("--inputs", nargs="+", required=True, help="the tile files")
            sub.set_defaults(func=cmd_distances_merge)

    pretrain = stages.add_parser("pretrain", help="architecture encoders: train, embed, measure")
    pretrain_sub = pretrain.add_subparsers(dest="action", required=True)
    pretrain_arch2vec = pretrain_sub.add_parser("arch2vec", help="train arch2vec on every cell of a space and embed them")
    pretrain_arch2vec.add_argument("--space", required=True)
    pretrain_arch2vec.add_argument("--params", type=_json_object, default={}, help="arch2vec hyperparameters as a JSON object")
    pretrain_arch2vec.add_argument("--global-seed", type=int, default=0)
    pretrain_arch2vec.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    pretrain_arch2vec.add_argument("--quiet", action="store_true", help="no progress bar")
    pretrain_arch2vec.add_argument("--cells-benchmark", default="", help="spaces without an enumeration: the "
                                   "benchmark whose store (--cells-store) lists the cells to train on")
    pretrain_arch2vec.add_argument("--cells-store", type=Path, default=None)
    pretrain_arch2vec.add_argument("--out-model", type=Path, required=True, help="the model (torch .pt)")
    pretrain_arch2vec.add_argument("--out", type=Path, required=True, help="embeddings HDF5; metrics go to the .json beside it")
    pretrain_arch2vec.set_defaults(func=cmd_pretrain_arch2vec)
    quality = pretrain_sub.add_parser("quality", help="random-walk smoothness and GP predictiveness of embeddings")
    quality.add_argument("--embeddings", type=Path, required=True)
    quality.add_argument("--benchmark", required=True)
    quality.add_argument("--store", type=Path, required=True)
    quality.add_argument("--dataset", required=True)
    quality.add_argument("--params", type=_json_object, default={},
                         help="walks, steps, gp_train, gp_seeds, threshold as a JSON object")
    quality.add_argument("--global-seed", type=int, default=0)
    quality.add_argument("--out", type=Path, required=True)
    quality.set_defaults(func=cmd_pretrain_quality)

    predictors = stages.add_parser("predictors", help="ranking predictors (GATES and baselines)")
    predictors_sub = predictors.add_subparsers(dest="action", required=True)
    evaluate_predictors = predictors_sub.add_parser("evaluate", help="Kendall tau / P@top of predictors trained on a fraction of cells")
    evaluate_predictors.add_argument("--benchmark", required=True)
    evaluate_predictors.add_argument("--store", type=Path, required=True)
    evaluate_predictors.add_argument("--dataset", required=True)
    evaluate_predictors.add_argument("--params", type=_json_object, default={},
                    help="models (name -> predictor params), proportions, seeds, top as a JSON object")
    evaluate_predictors.add_argument("--global-seed", type=int, default=0)
    evaluate_predictors.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    evaluate_predictors.add_argument("--quiet", action="store_true", help="no progress bar")
    evaluate_predictors.add_argument("--out", type=Path, required=True)
    evaluate_predictors.set_defaults(func=cmd_predictors_evaluate)

    estimate = stages.add_parser("estimate", help="zero-shot proxies of every architecture of a pool, in tiles")
    estimate_sub = estimate.add_subparsers(dest="action", required=True)
    estimate_tile = estimate_sub.add_parser("tile", help="score one tile (a contiguous slice) of a pool")
    estimate_tile.add_argument("--space", required=True)
    estimate_tile.add_argument("--proxy", required=True)
    estimate_tile.add_argument("--pool", type=Path, required=True)
    estimate_tile.add_argument("--tiles", type=int, required=True)
    estimate_tile.add_argument("--tile", type=int, required=True)
    estimate_tile.add_argument("--batch-size", type=int, default=64)
    estimate_tile.add_argument("--data", type=_optional_path, default=None, help="CIFAR archives' folder (else synthetic data)")
    estimate_tile.add_argument("--dataset", default="cifar10")
    estimate_tile.add_argument("--md5", default=None, help="md5 of a non-standard archive")
    estimate_tile.add_argument("--global-seed", type=int, default=0)
    estimate_tile.add_argument("--replicates", type=int, default=1,
                    help="seeds (network initialization and minibatch) per architecture, for the variance across seeds")
    estimate_tile.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    estimate_tile.add_argument("--threads", type=int, default=1)
    estimate_tile.add_argument("--out", type=Path, required=True)
    estimate_tile.set_defaults(func=cmd_estimate_tile)
    estimate_merge = estimate_sub.add_parser("merge", help="merge a proxy's tiles")
    estimate_merge.add_argument("--space", required=True)
    estimate_merge.add_argument("--proxy", required=True)
    estimate_merge.add_argument("--inputs", nargs="+", type=Path, required=True)
    estimate_merge.add_argument("--out", type=Path, required=True)
    estimate_merge.set_defaults(func=cmd_estimate_merge)

    estimate_diagnose = estimate_sub.add_parser("diagnose", help="rank estimators against the benchmark's accuracies")
    estimate_diagnose.add_argument("--benchmark", required=True)
    estimate_diagnose.add_argument("--store", type=Path, required=True)
    estimate_diagnose.add_argument("--dataset", required=True)
    estimate_diagnose.add_argument("--pool-name", required=True)
    estimate_diagnose.add_argument("--estimates", nargs="+", type=Path, required=True, help="merged estimate files of one pool")
    estimate_diagnose.add_argument("--out", type=Path, required=True)
    estimate_diagnose.set_defaults(func=cmd_estimate_diagnose)

    evaluate = stages.add_parser("evaluate", help="train a search run's best architecture with the final protocol")
    evaluate.add_argument("--store", type=Path, required=True, help="the DARTS benchmark store")
    evaluate.add_argument("--search-csv", type=Path, required=True, help="the search run whose incumbent to train")
    evaluate.add_argument("--dataset", required=True)
    evaluate.add_argument("--protocol", type=_json_object, default={}, help="final training protocol (JSON)")
    evaluate.add_argument("--replicate", type=int, required=True,
                          help="training replicate k: its seed derives from the global seed, the dataset and k")
    evaluate.add_argument("--global-seed", type=int, default=0)
    evaluate.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    evaluate.add_argument("--threads", type=int, default=1, help="CPU threads (torch) of this job")
    evaluate.add_argument("--out", type=Path, required=True, help="result JSON; checkpoints go to <out>.train/")
    evaluate.set_defaults(func=cmd_evaluate)

    report = stages.add_parser("report", help="figures and tables from search logs")
    report.add_argument("--inputs", nargs="+", required=True, help="search CSVs")
    report.add_argument("--encoder-metrics", nargs="*", default=[], help="pretrain stage .json files")
    report.add_argument("--encoder-quality", nargs="*", default=[], help="encoder quality .json files")
    report.add_argument("--predictor-metrics", nargs="*", default=[], help="predictor evaluation .json files")
    report.add_argument("--evaluations", nargs="*", default=[], help="evaluate stage .json files (DARTS)")
    report.add_argument("--estimator-diagnosis", nargs="*", default=[], help="estimate diagnose .json files")
    report.add_argument("--out-dir", type=Path, required=True)
    report.set_defaults(func=cmd_report)
    return parser


def _check_output_folders(args: argparse.Namespace) -> None:
    """Fail before any work when a command's output folder cannot be written (a long stage would
    otherwise compute everything and then die at the write)."""
    from nasstages.io import folder_write_error

    targets = []
    for name in ("out", "out_model"):
        value = getattr(args, name, None)
        targets += [Path(p).parent for p in (value if isinstance(value, list) else [value]) if p is not None]
    if getattr(args, "out_dir", None) is not None:
        targets.append(Path(args.out_dir))
    for folder in dict.fromkeys(targets):
        error = folder_write_error(folder)
        if error:
            raise ConfigError(f"{args.stage}: cannot write to {folder} ({error}); choose a writable output folder")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        _check_output_folders(args)
        args.func(args)
    except NasstagesError as exc:
        print(f"nasstages {args.stage}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
