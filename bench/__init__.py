"""Benchmarks: each figure is measured side by side with a baseline in the same run.

``make bench`` (``python -m bench``) runs them all and writes docs/BENCHMARKS.md and
docs/benchmarks.json. They never run inside the ordinary test suite; a smoke test
only checks that each still runs.
"""
