# What the rules share: wildcard constraints, resources, target lists derived from the config and
# the input / params functions of every rule file (which hold rules only, as `snakemake --lint` asks).
import shlex
from types import SimpleNamespace

from nasstages.evaluators.proxy_names import DETERMINISTIC as DETERMINISTIC_PROXIES
from nasstages.provenance import code_sha256

SEARCH_SEEDS = seeds_of(config["search"])
NASSTAGES_ENV = "../envs/nasstages.yaml"  # every rule's conda environment (relative to workflow/rules/)


wildcard_constraints:
    space=r"[A-Za-z0-9_-]+",
    benchmark=r"[A-Za-z0-9_-]+",
    dataset=r"[A-Za-z0-9_.-]+",
    method=r"[A-Za-z0-9_-]+",
    metric=r"[A-Za-z0-9_]+",
    pool=r"[A-Za-z0-9_-]+",
    seed=r"\d+",
    encoder=r"[A-Za-z0-9]+",
    proxy=r"[a-z_]+",


# Job resources of each rule, for local runs and SLURM alike; memory in MB, wall time in minutes, GPUs.
# config `resources: {rule: {...}}` overrides any of these per rule (also `threads`); the SLURM
# partition and account come from the profile (workflow/profiles/slurm), not from here.
DEFAULT_RESOURCES = {
    "benchmark_store": {"mem_mb": 4000, "runtime": 20},
    "sample_pool": {"mem_mb": 2000, "runtime": 20},
    "distance_tile": {"mem_mb": 4000, "runtime": 240, "gpu": 0},
    "distance_matrix": {"mem_mb": 4000, "runtime": 30},
    "pretrain_arch2vec": {"mem_mb": 8000, "runtime": 120, "gpu": 0},
    "encoder_quality": {"mem_mb": 8000, "runtime": 60},
    "predictor_quality": {"mem_mb": 8000, "runtime": 480, "gpu": 0},
    "search": {"mem_mb": 2000, "runtime": 240, "gpu": 0},
    # DARTS: every query trains a network (GPU nodes on a cluster: set gpu and slurm_partition)
    "search_darts": {"mem_mb": 16000, "runtime": 2880, "gpu": 0},
    "evaluate": {"mem_mb": 16000, "runtime": 2880, "gpu": 0},
    "estimate_tile": {"mem_mb": 4000, "runtime": 240, "gpu": 0},
    "estimate_merge": {"mem_mb": 4000, "runtime": 30},
    "report": {"mem_mb": 4000, "runtime": 30},
}


for _name in config.get("resources") or {}:
    if _name not in DEFAULT_RESOURCES:
        raise ConfigError(f"config resources.{_name}: no such rule; choose from: {', '.join(DEFAULT_RESOURCES)}")


def rule_resources(rule):
    """The rule's resources: defaults above, overridden by config resources.<rule> (not threads)."""
    override = {k: v for k, v in ((config.get("resources") or {}).get(rule) or {}).items() if k != "threads"}
    return {**DEFAULT_RESOURCES[rule], **override}


def rule_threads(rule, default):
    """Threads of a rule's jobs: config resources.<rule>.threads, else ``default``."""
    return ((config.get("resources") or {}).get(rule) or {}).get("threads", default)


def search_jobs():
    """(benchmark, dataset, method, seed) for every configured search run."""
    search = config["search"]
    return [
        (benchmark, dataset, method, seed)
        for benchmark in search["benchmarks"]
        for dataset in benchmark_datasets(search, benchmark)
        for method in benchmark_methods(search, benchmark)
        for seed in seeds_of(search)
    ]


def search_targets():
    return [LAYOUT.search_log(b, d, m, s) for b, d, m, s in search_jobs()]


def evaluate_targets():
    """Final trainings: each DARTS search run's best genotype, ``final_replicates`` times."""
    out = []
    for benchmark, dataset, method, seed in search_jobs():
        if benchmark in TRAINED_BENCHMARKS:
            replicates = config["benchmarks"][benchmark].get("final_replicates", 1)
            out += [LAYOUT.evaluation(benchmark, dataset, method, seed, k) for k in range(replicates)]
    return out


def estimate_targets():
    """Every configured proxy over every configured pool (merged files)."""
    return [LAYOUT.estimates(space, proxy, pool) for space, settings in config.get("estimates", {}).items()
            for pool in settings["pools"] for proxy in settings["proxies"]]


def diagnosis_targets():
    out = []
    for space, settings in config.get("estimates", {}).items():
        diagnose = settings.get("diagnose") or {}
        for pool in settings["pools"]:
            out += [LAYOUT.diagnosis(space, diagnose["benchmark"], d, pool)
                    for d in diagnose.get("datasets", [])]
    return out


def pool_targets():
    return [LAYOUT.pool(space, pool) for space, pools in config.get("pools", {}).items() for pool in pools]


def distance_targets():
    return [
        LAYOUT.matrix(space, metric, pool)
        for space, settings in config.get("distances", {}).items()
        for pool in settings["pools"]
        for metric in settings["metrics"]
    ]


def report_targets():
    jobs = search_jobs()
    from nasstages.benchmarks import BENCHMARKS, plugin

    def curve_kinds(benchmark):  # queries, simulated time, and regret where the optimum is known (tabular)
        trained = benchmark in BENCHMARKS and plugin(benchmark).trained
        return ("", "_time") if trained else ("", "_time", "_regret")

    figures = sorted({LAYOUT.report_figure(f"{b}_{d}{kind}.{ext}") for b, d, _, _ in jobs for kind in curve_kinds(b)
                      for ext in ("pdf", "png")})
    tables = sorted({LAYOUT.report_table(f"{b}_{kind}") for b, _, _, _ in jobs
                     for kind in (("errors.md", "errors.tex") if table_layout(b) == "errors"
                                  else ("final.md", "final.tex")) + ("cost.md",)})
    extra = [LAYOUT.report_table("provenance.md"), LAYOUT.report("runs.csv.gz")]
    from nasstages.analysis.ranks import rank_figure_kinds
    from nasstages.report.reproduction import PUBLISHED

    for benchmark in sorted({b for b, _, _, _ in jobs}):  # average ranks and the CD diagram across its datasets
        methods = {m for b, _, m, _ in jobs if b == benchmark}
        datasets = {d for b, d, _, _ in jobs if b == benchmark}
        extra += [LAYOUT.report_figure(f"{benchmark}_{kind}.{ext}") for kind in rank_figure_kinds(len(methods), len(datasets))
                  for ext in ("pdf", "png")]

    if any((b, d, m) in PUBLISHED for b, d, m, _ in jobs):
        extra += [LAYOUT.report_table("reproduction.md"), LAYOUT.report_table("reproduction.tex")]
    if encoder_targets() or encoder_quality_targets():
        extra.append(LAYOUT.report_table("encoders.md"))
    if predictor_targets():
        extra.append(LAYOUT.report_table("predictors.md"))
    for path in predictor_targets():  # results/predictors/{benchmark}/{dataset}.json
        benchmark, dataset = Path(path).parent.name, Path(path).stem
        extra += [LAYOUT.report_figure(f"predictors_{benchmark}_{dataset}.{ext}") for ext in ("pdf", "png")]
    for path in diagnosis_targets():
        stem = Path(path).stem.removeprefix("diagnosis_")
        extra += [LAYOUT.report_table(f"estimators_{stem}.md"), LAYOUT.report_table(f"estimators_{stem}.tex"),
                  LAYOUT.report_figure(f"estimators_{stem}.pdf"), LAYOUT.report_figure(f"estimators_{stem}.png")]
    return figures + tables + extra



REPORT_CAPTIONS = (  # (file name pattern, caption under workflow/report/, category = stage)
    (r"^predictors_.*\.png$", "predictors.rst", "pretrain"),
    (r"^estimators_.*\.png$", "estimators.rst", "estimate"),
    (r"_(rank|cd)\.png$", "ranks.rst", "search"),
    (r"_time\.png$", "time.rst", "search"),
    (r"_regret\.png$", "regret.rst", "search"),
    (r"\.png$", "curves.rst", "search"),
    (r"\.md$", "tables.rst", "tables"),
)


def report_outputs():
    """The report rule's outputs, PNG figures and Markdown tables flagged for `snakemake --report`
    with their caption and stage; PDFs, LaTeX and the tidy table stay plain outputs."""
    import re

    flagged = []
    for path in report_targets():
        name = Path(path).name
        for pattern, caption, category in REPORT_CAPTIONS:
            if re.search(pattern, name):
                subcategory = Path(path).parent.name  # figures or tables
                path = report(path, caption=f"../report/{caption}", category=category, subcategory=subcategory)
                break
        flagged.append(path)
    return flagged


def report_folder(output):
    """The report's folder, from its outputs (the tidy table lies at its top), not from a global."""
    return str(Path(next(path for path in output if path.endswith("runs.csv.gz"))).parent)


def encoder_targets():
    """Every configured encoder's embeddings, metrics and (if configured) quality checks."""
    out = []
    for space, settings in config.get("encoders", {}).items():
        for encoder in ENCODER_NAMES:
            if encoder in (settings or {}):
                out += [LAYOUT.encoder(space, encoder), LAYOUT.encoder(space, encoder, ".json")]
    return out


def encoder_quality_targets():
    return [LAYOUT.encoder_quality(space, encoder)
            for space, settings in config.get("encoders", {}).items() if (settings or {}).get("quality")
            for encoder in ENCODER_NAMES if encoder in settings]


def predictor_targets():
    return [LAYOUT.predictor_quality(benchmark, dataset)
            for benchmark, settings in config.get("predictors", {}).items() for dataset in settings["datasets"]]


def source_args(space):
    """--mirror/--official options for the configured (non-empty) sources, in trial order."""
    sources = config["benchmarks"][space]
    return " ".join(
        f"--{key} {shlex.quote(str(sources[key]))}" for key in ("mirror", "official") if sources.get(key)
    )


def distance_embeddings(w):
    """The pretrained encoder file an embedding metric reads (none for the others)."""
    encoder = ENCODER_OF_METRIC.get(w.metric)
    return [LAYOUT.encoder(w.space, encoder)] if encoder else []


def distance_params(w):
    params = dict(config["distances"][w.space]["metrics"][w.metric] or {})
    if ENCODER_OF_METRIC.get(w.metric):
        params["embeddings"] = distance_embeddings(w)[0]
    return json.dumps(params, sort_keys=True)


def distance_tiles(w):
    tiles = config["distances"][w.space].get("tiles", 1)
    return [
        LAYOUT.matrix_tile(w.space, w.metric, w.pool, i, j)
        for i in range(tiles)
        for j in range(i, tiles)
    ]


def distance_tile_threads(w):
    """The configured threads (distances.<space>.threads, default 1) for a metric whose solver is
    parallel (HOTNN); one for the others (OTMANN, edit, ...: single-threaded, so a second reserved
    core would sit idle). One by default: a multi-core tile waits for all its cores to be free at
    once, while single-core jobs keep taking them (the default pipeline ran its HOTNN tiles last)."""
    threads = rule_threads("distance_tile", config["distances"][w.space].get("threads", 1))
    return threads if DISTANCES.get(w.metric).multithreaded else 1


def estimate_settings(space):
    return config["estimates"][space]


def estimate_tiles(w):
    tiles = estimate_settings(w.space).get("tiles", 1)
    return [LAYOUT.estimates_tile(w.space, w.proxy, w.pool, i) for i in range(tiles)]


def estimate_data_args(space, proxy):
    settings = estimate_settings(space)
    args = f"--batch-size {settings.get('batch_size', 64)} --dataset {settings.get('dataset', 'cifar10')}"
    if settings.get("seeds", 1) > 1 and proxy not in DETERMINISTIC_PROXIES:  # params, FLOPs: one seed suffices
        args += f" --replicates {settings['seeds']}"
    if settings.get("data"):
        args += f" --data {shlex.quote(str(settings['data']))}"
    if settings.get("md5"):
        args += f" --md5 {settings['md5']}"
    return args


def encoder_setting(space, key, default):
    return (config["encoders"][space] or {}).get(key, default)


def pretrain_cells_store(space):
    """The store listing the cells an encoder trains on, for a space without an enumeration (nb101)."""
    cells = encoder_setting(space, "cells", None)
    return [LAYOUT.benchmark_store(cells)] if cells else []


def pretrain_cells_args(space):
    cells = encoder_setting(space, "cells", None)
    return f"--cells-benchmark {cells} --cells-store {shlex.quote(LAYOUT.benchmark_store(cells))}" if cells else ""


def predictor_setting(benchmark, key, default):
    return config["predictors"][benchmark].get(key, default)


def search_embeddings(w):
    """The pretrained encoder file a method reads (none for most methods)."""
    return [path for path in [search_inputs(config, w.benchmark, w.method).embeddings] if path]


def search_distance_matrix(w):
    """The precomputed matrix a method reads when its config names a `distance_pool` for this
    benchmark (none otherwise: distances are computed on the fly)."""
    return [path for path in [search_inputs(config, w.benchmark, w.method).matrix] if path]


def search_proxy_scores(w):
    """The estimate-stage scores a method's `zs_prefilter` reads when it names an estimate `pool`
    (none otherwise: candidates are scored on the fly)."""
    return [path for path in [search_inputs(config, w.benchmark, w.method).proxy_scores] if path]


def search_method_params(w):
    return json.dumps(search_job_params(config, w.benchmark, w.method), sort_keys=True)


def darts_wildcards(w):
    """search_darts's wildcards as the generic search helpers expect them (benchmark fixed)."""
    return SimpleNamespace(benchmark="darts", method=w.method)


def trained_benchmark_params(benchmark):
    settings = config["benchmarks"][benchmark]
    return json.dumps({"protocol": settings.get("search") or {}, "device": settings.get("device", "auto")},
                      sort_keys=True)


def precompile_package():
    """Byte-compile the package once per workflow run, before any job: where PYTHONDONTWRITEBYTECODE
    is set (as on the developers' machines) every job would otherwise compile its ~60 modules
    again, ~70 ms of each search job's start (issue 16). Best effort: a read-only install skips it."""
    import compileall

    import nasstages

    try:
        compileall.compile_dir(str(Path(nasstages.__file__).parent), quiet=2)
    except OSError:
        pass
