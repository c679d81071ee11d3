"""Tools for testing reward pieces, yours included: hypothesis strategies and fake rollouts."""
