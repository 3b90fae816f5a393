# Target lists derived from the config, shared by the rules.


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


# Job resources per rule (local runs and SLURM alike): memory in MB, wall time in minutes, GPUs.
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


for _rule in config.get("resources") or {}:
    if _rule not in DEFAULT_RESOURCES:
        raise ConfigError(f"config resources.{_rule}: no such rule; choose from: {', '.join(DEFAULT_RESOURCES)}")


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
    return [f"{R}/search/{b}/{d}/{m}/seed{s}.csv" for b, d, m, s in search_jobs()]


def evaluate_targets():
    """Final trainings: each DARTS search run's best genotype, ``final_replicates`` times."""
    out = []
    for benchmark, dataset, method, seed in search_jobs():
        if benchmark in TRAINED_BENCHMARKS:
            replicates = config["benchmarks"][benchmark].get("final_replicates", 1)
            out += [f"{R}/evaluate/{benchmark}/{dataset}/{method}/seed{seed}/replicate{k}.json" for k in range(replicates)]
    return out


def estimate_targets():
    """Every configured proxy over every configured pool (merged files)."""
    return [f"{R}/estimates/{space}/{proxy}/{pool}.h5" for space, settings in config.get("estimates", {}).items()
            for pool in settings["pools"] for proxy in settings["proxies"]]


def diagnosis_targets():
    out = []
    for space, settings in config.get("estimates", {}).items():
        diagnose = settings.get("diagnose") or {}
        for pool in settings["pools"]:
            out += [f"{R}/estimates/{space}/diagnosis_{diagnose['benchmark']}_{d}_{pool}.json"
                    for d in diagnose.get("datasets", [])]
    return out


def pool_targets():
    return [f"{R}/pools/{space}/{pool}.h5" for space, pools in config.get("pools", {}).items() for pool in pools]


def distance_targets():
    return [
        f"{R}/distances/{space}/{metric}/{pool}.h5"
        for space, settings in config.get("distances", {}).items()
        for pool in settings["pools"]
        for metric in settings["metrics"]
    ]


def report_targets():
    jobs = search_jobs()
    figures = sorted({f"{R}/report/figures/{b}_{d}.{ext}" for b, d, _, _ in jobs for ext in ("pdf", "png")})
    tables = sorted({f"{R}/report/tables/{b}_{kind}" for b, _, _, _ in jobs
                     for kind in (("errors.md", "errors.tex") if table_layout(b) == "errors"
                                  else ("final.md", "final.tex")) + ("cost.md",)})
    extra = [f"{R}/report/tables/provenance.md"]
    from nasstages.analysis.ranks import rank_figure_kinds
    from nasstages.report.reproduction import PUBLISHED

    for benchmark in sorted({b for b, _, _, _ in jobs}):  # average ranks and the CD diagram across its datasets
        methods = {m for b, _, m, _ in jobs if b == benchmark}
        datasets = {d for b, d, _, _ in jobs if b == benchmark}
        extra += [f"{R}/report/figures/{benchmark}_{kind}.{ext}" for kind in rank_figure_kinds(len(methods), len(datasets))
                  for ext in ("pdf", "png")]

    if any((b, d, m) in PUBLISHED for b, d, m, _ in jobs):
        extra += [f"{R}/report/tables/reproduction.md", f"{R}/report/tables/reproduction.tex"]
    if encoder_targets() or encoder_quality_targets():
        extra.append(f"{R}/report/tables/encoders.md")
    if predictor_targets():
        extra.append(f"{R}/report/tables/predictors.md")
    for path in predictor_targets():  # results/predictors/{benchmark}/{dataset}.json
        benchmark, dataset = Path(path).parent.name, Path(path).stem
        extra += [f"{R}/report/figures/predictors_{benchmark}_{dataset}.{ext}" for ext in ("pdf", "png")]
    for path in diagnosis_targets():
        stem = Path(path).stem.removeprefix("diagnosis_")
        extra += [f"{R}/report/tables/estimators_{stem}.md", f"{R}/report/tables/estimators_{stem}.tex",
                  f"{R}/report/figures/estimators_{stem}.pdf", f"{R}/report/figures/estimators_{stem}.png"]
    return figures + tables + extra



def encoder_file(space, encoder):
    return f"{R}/encoders/{space}/{encoder}.h5"


def encoder_targets():
    """Every configured encoder's embeddings, metrics and (if configured) quality checks."""
    out = []
    for space, settings in config.get("encoders", {}).items():
        for encoder in ENCODER_NAMES:
            if encoder in (settings or {}):
                out += [encoder_file(space, encoder), f"{R}/encoders/{space}/{encoder}.json"]
    return out


def encoder_quality_targets():
    return [f"{R}/encoders/{space}/{encoder}_quality.json"
            for space, settings in config.get("encoders", {}).items() if (settings or {}).get("quality")
            for encoder in ENCODER_NAMES if encoder in settings]


def predictor_targets():
    return [f"{R}/predictors/{benchmark}/{dataset}.json"
            for benchmark, settings in config.get("predictors", {}).items() for dataset in settings["datasets"]]
