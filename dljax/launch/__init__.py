"""Launching many runs: sweeps and ablations (sweep.py), their reports (report.py), and seeds
vmapped in one compiled program (vmap_seeds.py). Cluster launch scripts live in the top-level launch/."""
