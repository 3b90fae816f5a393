"""The DARTS space as a trained benchmark: its plugin (queries train networks from the CIFAR data;
the classes live in ``nasstages.evaluators`` and import torch only when a job uses them)."""

from nasstages.benchmarks.plugin import BenchmarkPlugin

PLUGIN = BenchmarkPlugin(
    name="darts", space="darts", datasets=("cifar10", "cifar100"),
    benchmark="nasstages.evaluators.benchmark:DartsTrainingBenchmark",
    build="nasstages.evaluators.data_store:build_data_store",
    kind="trained",      # its own search rule, training protocols and evaluate stage
    noisy_seeds=True,    # every training run's seed is drawn, as on a tabular benchmark's seeds
    table="final",       # search error beside the final test error of the found cells
    source_keys=("data",),
    download_hint="set benchmarks.darts.data to a folder holding the CIFAR python archives "
                  "(cifar-10-python.tar.gz, cifar-100-python.tar.gz)",
)
