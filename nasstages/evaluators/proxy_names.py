"""The zero-shot proxies by name and kind, importable without torch (config checks, the Snakefile)."""

PROXIES = ("params", "flops", "synflow", "grad_norm", "snip", "jacob_cov", "naswot")
DATA_FREE = ("params", "flops", "synflow")  # no minibatch: an all-ones input or only its shape
DETERMINISTIC = ("params", "flops")         # the same for every initialization and minibatch
