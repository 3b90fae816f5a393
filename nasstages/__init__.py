"""nasstages: a cached, stage-by-stage workflow for neural architecture search research."""

__version__ = "0.1.0"
