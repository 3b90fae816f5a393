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


def search_jobs():
    """(benchmark, dataset, method, seed) for every configured search run."""
    search = config["search"]
    return [
        (benchmark, dataset, method, seed)
        for benchmark, datasets in search["benchmarks"].items()
        for dataset in datasets
        for method in search["methods"]
        for seed in seeds_of(search)
    ]


def search_targets():
    return [f"{R}/search/{b}/{d}/{m}/seed{s}.csv" for b, d, m, s in search_jobs()]


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
                     for kind in ("final.md", "final.tex", "cost.md")})
    extra = []
    if encoder_targets() or encoder_quality_targets():
        extra.append(f"{R}/report/tables/encoders.md")
    if predictor_targets():
        extra.append(f"{R}/report/tables/predictors.md")
    return figures + tables + extra


def benchmark_space(benchmark):
    return BENCHMARK_SPACE.get(benchmark, benchmark)


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
