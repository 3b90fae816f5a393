"""The zero-shot proxies by name and kind, importable without torch (config checks, the Snakefile)."""

PROXIES = ("params", "flops", "synflow", "grad_norm", "snip", "jacob_cov", "naswot")
DATA_FREE = ("params", "flops", "synflow")  # no minibatch: an all-ones input or only its shape
DETERMINISTIC = ("params", "flops")         # the same for every initialization and minibatch

#: space -> "module:class" of the network an architecture of it is scored as (zero-shot proxies, the
#: estimate stage); a space without one cannot be estimated. Adding a builder is one line here.
NETWORK_BUILDERS = {"nb201": "nasstages.evaluators.nb201_network:NB201Network"}
