"""Manipulation domains (MetaWorld, Robosuite): policy collection, evaluation protocol, baselines."""
