"""Benchmarks: `python -m bench [topic]` runs `bench/bench_<topic>.py`'s `main()`."""
