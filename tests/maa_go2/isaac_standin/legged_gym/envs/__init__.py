"""Stand-in ``legged_gym.envs`` (the real one registers its own robots' tasks; the stand-in registers none)."""
