"""Threads: its publisher, OAuth client, media rules, slot priors and settings defaults (spec.py)."""
