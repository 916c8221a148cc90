"""Training: state, the jitted steps, trainers, checkpoints, metrics, and the one loop."""
