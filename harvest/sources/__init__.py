"""The sources: fetch (HTTP, raw bytes out) and parse (pure, bytes → records), one package per source.

http.py is the one HTTP client every fetcher uses; rawcache.py keeps every accepted reply; sniff.py
tells which source a raw reply came from.
"""
