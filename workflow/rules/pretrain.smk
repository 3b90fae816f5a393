# Stage 4: architecture encoders. arch2vec is trained once per space on every cell; its quality
# is measured against a benchmark; ranking predictors are evaluated with GATES's protocol.


rule pretrain_arch2vec:
    conda:
        NASSTAGES_ENV
    input:
        cells=lambda w: pretrain_cells_store(w.space),
    output:
        model=LAYOUT.encoder("{space}", "arch2vec", ".pt"),
        embeddings=LAYOUT.encoder("{space}", "arch2vec"),
        metrics=LAYOUT.encoder("{space}", "arch2vec", ".json"),
    params:
        model_params=lambda w: json.dumps(config["encoders"][w.space]["arch2vec"] or {}, sort_keys=True),
        device=lambda w: encoder_setting(w.space, "device", "auto"),
        global_seed=config["seed"],
        cells=lambda w: pretrain_cells_args(w.space),
    log:
        LAYOUT.log("encoders/{space}/arch2vec.log"),
    benchmark:
        LAYOUT.timing("encoders/{space}/arch2vec.tsv"),
    threads: lambda w: rule_threads("pretrain_arch2vec", encoder_setting(w.space, "threads", 2))
    priority: 10  # long single jobs (or inputs of many): started before the short search jobs
    resources:
        **rule_resources("pretrain_arch2vec"),
    shell:
        "OMP_NUM_THREADS={threads} nasstages pretrain arch2vec --space {wildcards.space}"
        " --params {params.model_params:q} --global-seed {params.global_seed} --device {params.device}"
        " {params.cells} --out-model {output.model:q} --out {output.embeddings:q} > {log:q} 2>&1"


rule encoder_quality:
    conda:
        NASSTAGES_ENV
    input:
        embeddings=LAYOUT.encoder("{space}", "{encoder}"),
        store=lambda w: LAYOUT.benchmark_store(config["encoders"][w.space]["quality"]["benchmark"]),
    output:
        LAYOUT.encoder_quality("{space}", "{encoder}"),
    params:
        benchmark=lambda w: config["encoders"][w.space]["quality"]["benchmark"],
        dataset=lambda w: config["encoders"][w.space]["quality"]["dataset"],
        checks=lambda w: json.dumps({k: v for k, v in config["encoders"][w.space]["quality"].items()
                                     if k not in ("benchmark", "dataset")}, sort_keys=True),
        global_seed=config["seed"],
    log:
        LAYOUT.log("encoders/{space}/{encoder}_quality.log"),
    benchmark:
        LAYOUT.timing("encoders/{space}/{encoder}_quality.tsv"),
    threads: lambda w: rule_threads("encoder_quality", encoder_setting(w.space, "threads", 2))
    priority: 10  # long single jobs (or inputs of many): started before the short search jobs
    resources:
        **rule_resources("encoder_quality"),
    shell:
        "OMP_NUM_THREADS={threads} nasstages pretrain quality --embeddings {input.embeddings:q}"
        " --benchmark {params.benchmark} --store {input.store:q} --dataset {params.dataset:q}"
        " --params {params.checks:q} --global-seed {params.global_seed} --out {output:q} > {log:q} 2>&1"


rule predictor_quality:
    conda:
        NASSTAGES_ENV
    input:
        store=LAYOUT.benchmark_store("{benchmark}"),
    output:
        LAYOUT.predictor_quality("{benchmark}", "{dataset}"),
    params:
        settings=lambda w: json.dumps(predictor_evaluation_settings(config["predictors"][w.benchmark]),
                                      sort_keys=True),
        device=lambda w: predictor_setting(w.benchmark, "device", "auto"),
        global_seed=config["seed"],
    log:
        LAYOUT.log("predictors/{benchmark}/{dataset}.log"),
    benchmark:
        LAYOUT.timing("predictors/{benchmark}/{dataset}.tsv"),
    threads: lambda w: rule_threads("predictor_quality", predictor_setting(w.benchmark, "threads", 2))
    priority: 10  # long single jobs (or inputs of many): started before the short search jobs
    resources:
        **rule_resources("predictor_quality"),
    shell:
        "OMP_NUM_THREADS={threads} nasstages predictors evaluate --benchmark {wildcards.benchmark}"
        " --store {input.store:q} --dataset {wildcards.dataset:q} --params {params.settings:q}"
        " --device {params.device} --global-seed {params.global_seed} --out {output:q} > {log:q} 2>&1"
