"""Bluesky (AT Protocol): publisher, OAuth client, media rules, slot priors, settings defaults (spec.py)."""
