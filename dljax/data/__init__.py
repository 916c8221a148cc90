"""Datasets: TFDS builders for the offline datasets (builders/) and the loader the trainers call (sources.py).

Layer rule: nothing here imports dljax above `dljax.errors`.
"""
