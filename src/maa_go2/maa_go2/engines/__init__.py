"""Simulation engines for the Go2 task: MuJoCo (CPU, always available) and Isaac Gym (GPU, optional)."""
