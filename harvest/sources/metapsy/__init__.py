"""Metapsy meta-analytic databases: fetch.py (the GitHub files), parse.py (data.csv → rows) and
pool.py (the living meta-analysis pooled from them, data/meta/<slug>.json)."""
