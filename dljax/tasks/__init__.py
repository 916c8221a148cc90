"""What each kind of experiment means: losses, metrics, evaluation (no training loop here)."""
