"""One exception type per user mistake, each carrying the fix in its message.

The CLI catches :class:`NasstagesError` and prints the message without a traceback, so the
message must say what went wrong *and* what to do about it.
"""


class NasstagesError(Exception):
    """Base class of every error that a user can fix."""


class ConfigError(NasstagesError):
    """A configuration value is missing, malformed or names something unknown."""


class UnknownNameError(ConfigError):
    """A registry lookup (space, benchmark, method, ...) failed."""


class BenchmarkSourceError(NasstagesError):
    """No source for a benchmark could be found or read."""


class CorruptStoreError(NasstagesError):
    """An HDF5 store is truncated, partial, of another format version or fails its checksum."""


def reject_unknown_keys(params: "dict[str, object]", accepted: "set[str] | list[str]", where: str,
                        noun: str = "parameter") -> None:
    """ConfigError naming the keys of ``params`` outside ``accepted``, and what is accepted."""
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ConfigError(f"{where}: unknown {noun}(s) {unknown}; accepted: {sorted(accepted)}")
