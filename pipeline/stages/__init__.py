"""Stages: the pure middle. No clock, environment, files, network or database; `now` and settings are parameters (pure)"""
