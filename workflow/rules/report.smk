# Stage 7: figures (best-found validation error vs. queries) and final-value tables.


rule report:
    conda:
        NASSTAGES_ENV
    input:
        csvs=search_targets(),
        encoders=[p for p in encoder_targets() if p.endswith(".json")],
        quality=encoder_quality_targets(),
        predictors=predictor_targets(),
        evaluations=evaluate_targets(),
        diagnosis=diagnosis_targets(),
    output:
        report_outputs(),
    params:
        out_dir=lambda w, output: report_folder(output),
    log:
        LAYOUT.log("report.log"),
    benchmark:
        LAYOUT.timing("report.tsv"),
    threads: rule_threads("report", 1)
    resources:
        **rule_resources("report"),
    shell:
        "nasstages report --inputs {input.csvs:q} --encoder-metrics {input.encoders:q}"
        " --encoder-quality {input.quality:q} --predictor-metrics {input.predictors:q}"
        " --evaluations {input.evaluations:q} --estimator-diagnosis {input.diagnosis:q}"
        " --out-dir {params.out_dir:q} > {log:q} 2>&1"
