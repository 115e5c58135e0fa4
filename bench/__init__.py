"""The benchmark harness: ``make bench`` (or ``python bench/run.py``); see bench/README.md."""
