"""Unitree Go2 locomotion domain: MuJoCo model, joint order, walk-these-ways logic, engines."""
