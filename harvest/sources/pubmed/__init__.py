"""PubMed over NCBI E-utilities: fetch.py (esearch/efetch) and parse.py (PubMed XML → records)."""
