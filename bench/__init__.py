"""durable-local benchmarks (issue 6): ``python -m bench --help``."""
