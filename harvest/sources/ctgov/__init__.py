"""ClinicalTrials.gov API v2: fetch.py (/studies pages) and parse.py (study JSON → records)."""
