# Stage 5: one job per (benchmark, dataset, method) that runs every configured seed in turn, in
# one process, each seed to its own CSV and JSON (a tabular run costs about as much as starting
# the interpreter and loading the store, which one job per seed would repeat 10 times). Changing
# the method's parameters, the budget or the noise mode changes params and so reruns exactly the
# affected jobs; so does a change of the package's code (params.code). Adding seeds reruns each job, which leaves its finished seeds untouched (see
# update() below); a killed job restarted likewise recomputes only its unfinished seeds.


rule search:
    conda:
        NASSTAGES_ENV
    input:
        store=LAYOUT.benchmark_store("{benchmark}"),
        embeddings=search_embeddings,
        distance_matrix=search_distance_matrix,
        proxy_scores=search_proxy_scores,
    output:
        # update(): Snakemake keeps (backs up) a rerun job's existing files instead of deleting
        # them; `nasstages search` keeps each one this code and config finished (runner.finished_by)
        csv=[update(LAYOUT.search_log("{benchmark}", "{dataset}", "{method}", seed)) for seed in SEARCH_SEEDS],
        meta=[update(LAYOUT.search_log("{benchmark}", "{dataset}", "{method}", seed, ".json")) for seed in SEARCH_SEEDS],
    params:
        method_params=search_method_params,
        budget=lambda w: benchmark_budget(config["search"], w.benchmark),
        noise=config["search"].get("noise", "sample"),
        query_rule=config["search"].get("query_rule", "string"),
        batch_size=config["search"].get("batch_size", 1),
        global_seed=config["seed"],
        seeds=" ".join(str(seed) for seed in SEARCH_SEEDS),
        # the package's code (methods' defaults included): an upgrade reruns the jobs, and the runner
        # recomputes what other code made instead of Snakemake calling stale results current
        code=code_sha256(),
    log:
        LAYOUT.log("search/{benchmark}/{dataset}/{method}/seeds.log"),
    benchmark:
        LAYOUT.timing("search/{benchmark}/{dataset}/{method}/seeds.tsv"),
    threads: rule_threads("search", 1)
    resources:
        **rule_resources("search"),
        # how often to checkpoint changes no result: a resource, not a param, so changing it
        # reruns nothing (Snakemake's rerun triggers compare params, not resources)
        checkpoint_every=config["search"].get("checkpoint_every", 25),
    shell:
        "nasstages search --benchmark {wildcards.benchmark} --store {input.store:q}"
        " --dataset {wildcards.dataset:q} --method {wildcards.method} --seed {params.seeds}"
        " --budget {params.budget} --params {params.method_params:q} --noise {params.noise}"
        " --query-rule {params.query_rule}"
        " --batch-size {params.batch_size} --checkpoint-every {resources.checkpoint_every}"
        " --global-seed {params.global_seed} --out {output.csv:q} > {log:q} 2>&1"


# DARTS: a query trains a network under benchmarks.darts.search; a checkpoint after every query
# (and one per training epoch under <csv stem>.train/) so a killed job retrains nothing it finished.
ruleorder: search_darts > search


rule search_darts:
    conda:
        NASSTAGES_ENV
    input:
        store=LAYOUT.trained_store("darts", "{dataset}"),
        distance_matrix=lambda w: search_distance_matrix(darts_wildcards(w)),
    output:
        csv=LAYOUT.search_log("darts", "{dataset}", "{method}", "{seed}"),
        meta=LAYOUT.search_log("darts", "{dataset}", "{method}", "{seed}", ".json"),
    params:
        method_params=lambda w: search_method_params(darts_wildcards(w)),
        bench_params=trained_benchmark_params("darts") if "darts" in config["benchmarks"] else "{}",
        budget=lambda w: benchmark_budget(config["search"], "darts"),
        query_rule=config["search"].get("query_rule", "string"),
        global_seed=config["seed"],
    log:
        LAYOUT.log("search/darts/{dataset}/{method}/seed{seed}.log"),
    benchmark:
        LAYOUT.timing("search/darts/{dataset}/{method}/seed{seed}.tsv"),
    threads: rule_threads("search_darts", 2)
    resources:
        **rule_resources("search_darts"),
    shell:
        "nasstages search --benchmark darts --store {input.store:q} --dataset {wildcards.dataset:q}"
        " --method {wildcards.method} --seed {wildcards.seed} --budget {params.budget}"
        " --params {params.method_params:q} --bench-params {params.bench_params:q} --threads {threads}"
        " --noise sample --query-rule {params.query_rule} --batch-size 1 --checkpoint-every 1"
        " --global-seed {params.global_seed}"
        " --out {output.csv:q} > {log:q} 2>&1"
