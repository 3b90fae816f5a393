"""The ``nasstages`` command: one subcommand per pipeline stage; Snakemake rules only call these.

User mistakes (NasstagesError) print one clear message and exit with status 2, no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Sequence

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
    from nasstages.benchmarks.nb201 import NB201Sources, load_sources
    from nasstages.benchmarks.store import write_store
    from nasstages.provenance import provenance

    if args.space != "nb201":
        raise ConfigError(f"no benchmark builder for space {args.space!r}; available: nb201")
    started = time.perf_counter()
    data = load_sources(NB201Sources(mirror=args.mirror, official=args.official))
    data.provenance = provenance({"space": args.space, "mirror": str(args.mirror), "official": str(args.official)})
    write_store(args.out, data)
    log.info("wrote %s from %s source in %.1f s", args.out, data.source["kind"], time.perf_counter() - started)


def cmd_sample(args: argparse.Namespace) -> None:
    from nasstages.pools import sample_pool, write_pool

    pool = sample_pool(args.space, args.size, args.global_seed, args.name, args.dedup)
    config = {"space": args.space, "pool": args.name, "size": args.size, "dedup": args.dedup,
              "global_seed": args.global_seed}
    write_pool(args.out, pool, config)
    log.info("wrote pool %s: %d architectures (%d isomorphism classes)", args.out, len(pool.archs), len(set(pool.hashes)))


def cmd_search(args: argparse.Namespace) -> None:
    from nasstages.benchmarks import load_benchmark
    from nasstages.search.runner import SearchJob, run_search

    job = SearchJob(
        benchmark=args.benchmark, dataset=args.dataset, method=args.method, seed=args.seed, budget=args.budget,
        global_seed=args.global_seed, noise=args.noise, batch_size=args.batch_size, params=args.params,
    )
    if job.budget < 1 or job.batch_size < 1:
        raise ConfigError("--budget and --batch-size must be at least 1")
    bench = load_benchmark(args.benchmark, args.store)
    started = time.perf_counter()
    run_search(job, bench, args.out, checkpoint_every=args.checkpoint_every, show_progress=not args.quiet)
    log.info("wrote %s (%d queries) in %.2f s", args.out, job.budget, time.perf_counter() - started)


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


def cmd_report(args: argparse.Namespace) -> None:
    from nasstages.report import write_report

    written = write_report(args.inputs, args.out_dir)
    log.info("wrote %d report files under %s", len(written), args.out_dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nasstages", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    stages = parser.add_subparsers(dest="stage", required=True)

    bench = stages.add_parser("benchmarks", help="build normalized benchmark stores")
    bench_sub = bench.add_subparsers(dest="action", required=True)
    fetch = bench_sub.add_parser("fetch", help="build results/benchmarks/{space}.h5 from the first working source")
    fetch.add_argument("--space", required=True)
    fetch.add_argument("--mirror", type=_optional_path, default=None, help="local mirror folder (tried first)")
    fetch.add_argument("--official", type=_optional_path, default=None, help="official benchmark file (tried second)")
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

    search = stages.add_parser("search", help="run one search job (benchmark, dataset, method, seed)")
    search.add_argument("--benchmark", required=True)
    search.add_argument("--store", type=Path, required=True, help="the benchmark's HDF5 store")
    search.add_argument("--dataset", required=True)
    search.add_argument("--method", required=True)
    search.add_argument("--seed", type=int, required=True)
    search.add_argument("--budget", type=int, required=True, help="number of queries")
    search.add_argument("--params", type=_json_object, default={}, help="method parameters as a JSON object")
    search.add_argument("--global-seed", type=int, default=0)
    search.add_argument("--noise", default="sample", help="sample (one random training seed) or mean")
    search.add_argument("--batch-size", type=int, default=1)
    search.add_argument("--checkpoint-every", type=int, default=25)
    search.add_argument("--quiet", action="store_true", help="no progress bar")
    search.add_argument("--out", type=Path, required=True, help="CSV log; provenance goes to the .json beside it")
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

    report = stages.add_parser("report", help="figures and tables from search logs")
    report.add_argument("--inputs", nargs="+", required=True, help="search CSVs")
    report.add_argument("--out-dir", type=Path, required=True)
    report.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        args.func(args)
    except NasstagesError as exc:
        print(f"nasstages {args.stage}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
