"""Bytes a reader downloads for a first search, measured in Debian Chromium through Playwright.

Serves a built site from 127.0.0.1, opens its search page, types one query and waits until the
results are shown and the network is idle, then adds up every response of the search: each file under
``/pagefind/`` and the merged parts ``/pagefind-<k>/`` (the engine, metadata, filter files, index
chunks and result fragments, and Pagefind's own UI where a site uses it) and every script the page
loads (the site's own search script).  Sizes are what a host that compresses would send: Pagefind's
own index files are already gzip and count as they are; the rest (JavaScript, WebAssembly, CSS)
count gzip-compressed at level 6, as GitHub Pages serves them.

Works on this site's search page (theme/static/js/search.js) and on Pagefind's stock UI (the Hugo
site of bench/build.py).  Run alone to list every file:

    .venv/bin/python bench/firstsearch.py OUTPUT_DIR [QUERY]
"""

from __future__ import annotations

import functools
import gzip
import http.server
import re
import threading
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# Pagefind bundles: pagefind/ and the parts merged into it (plugins/search/parts.py: pagefind-<k>/).
BUNDLE = re.compile(r"/(pagefind(?:-\d+)?/[^?]*)")
PATH = re.compile(r"^https?://[^/]+/([^?]*)")
# This site's search page, or Pagefind's stock UI.
BOX = "#search-input, .pagefind-ui__search-input"
RESULT = ".search-result, .pagefind-ui__result"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def transfer_size(body: bytes) -> int:
    return len(body) if body[:2] == b"\x1f\x8b" else len(gzip.compress(body, 6))


def first_search_kb(site: Path, query: str, page: str = "/search/", timeout_ms: int = 60000) -> dict:
    """{"kb": total, "files": {name: bytes}} for one query on a fresh browser profile."""
    from playwright.sync_api import sync_playwright

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    sizes: dict[str, int] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                tab = browser.new_page(viewport={"width": 1280, "height": 900})

                def seen(response):
                    found = BUNDLE.search(response.url)
                    if found:
                        name = found.group(1)
                    elif response.request.resource_type == "script":
                        name = PATH.match(response.url).group(1)
                    else:
                        return
                    if response.status == 200:
                        try:
                            sizes[name] = transfer_size(response.body())
                        except Exception:  # noqa: BLE001 - a response whose body is gone counts 0
                            sizes[name] = 0

                tab.on("response", seen)
                tab.goto(base + page, wait_until="networkidle")
                box = tab.locator(BOX)
                box.wait_for(timeout=timeout_ms)
                box.fill(query)
                tab.locator(RESULT).first.wait_for(timeout=timeout_ms)
                tab.wait_for_load_state("networkidle")
                tab.wait_for_timeout(500)  # result fragments load after the list appears
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return {"kb": sum(sizes.values()) / 1024, "files": sizes}


def main(argv: list[str] | None = None) -> int:
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(__doc__)
        return 2
    found = first_search_kb(Path(args[0]), args[1] if len(args) > 1 else "depression")
    for name, size in found["files"].items():
        print(f"{size:>9,}  {name}")
    print(f"{found['kb']:>9.1f}  KB in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
