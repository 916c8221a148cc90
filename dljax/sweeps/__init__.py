"""Many runs of one experiment: sweeps and ablations (sweep.py), their reports (report.py), seeds vmapped in
one compiled program (vmap_seeds.py), and the process commands of the top-level launch/ scripts
(clusters.py)."""
