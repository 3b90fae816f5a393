"""Analysis below rendering: ranking metrics and the estimator diagnosis, computed here and imported
by ``encoders``, ``search``, the CLI and ``report`` (which only renders tables and figures)."""
