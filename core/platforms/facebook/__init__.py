"""Facebook Pages: its publisher (Reels and Page videos), Facebook Login, media rules, slot priors and
settings defaults (spec.py)."""
