# Stage 5: one job per (benchmark, dataset, method, seed). Changing the method's parameters,
# the budget or the noise mode changes params and so reruns exactly the affected jobs.


rule search:
    input:
        store=f"{R}/benchmarks/{{benchmark}}.h5",
    output:
        csv=f"{R}/search/{{benchmark}}/{{dataset}}/{{method}}/seed{{seed}}.csv",
        meta=f"{R}/search/{{benchmark}}/{{dataset}}/{{method}}/seed{{seed}}.json",
    params:
        method_params=lambda w: json.dumps(config["search"]["methods"][w.method] or {}, sort_keys=True),
        budget=config["search"]["budget"],
        noise=config["search"].get("noise", "sample"),
        batch_size=config["search"].get("batch_size", 1),
        checkpoint_every=config["search"].get("checkpoint_every", 25),
        global_seed=config["seed"],
    log:
        f"{R}/logs/search/{{benchmark}}/{{dataset}}/{{method}}/seed{{seed}}.log",
    threads: 1
    shell:
        "nasstages search --benchmark {wildcards.benchmark} --store {input.store:q}"
        " --dataset {wildcards.dataset:q} --method {wildcards.method} --seed {wildcards.seed}"
        " --budget {params.budget} --params {params.method_params:q} --noise {params.noise}"
        " --batch-size {params.batch_size} --checkpoint-every {params.checkpoint_every}"
        " --global-seed {params.global_seed} --out {output.csv:q} > {log:q} 2>&1"
