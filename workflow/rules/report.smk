# Stage 7: figures (best-found validation error vs. queries) and final-value tables.


rule report:
    input:
        search_targets(),
    output:
        report_targets(),
    log:
        f"{R}/logs/report.log",
    shell:
        "nasstages report --inputs {input:q} --out-dir {R}/report > {log:q} 2>&1"
