"""Pelican settings for the Mood Evidence Atlas (development build: relative URLs, no SITEURL).

Load by path: `pelican content -o output -s pelican.conf.py --fatal errors` (see Makefile).
The publish variant (pelican.publish.py) imports this file and switches to absolute URLs.
"""

from pathlib import Path

_ROOT = Path(__file__).resolve().parent

AUTHOR = "Mood Evidence Atlas"
SITENAME = "Mood Evidence Atlas"
SITESUBTITLE = "What research says about emerging treatments for mood disorders"
SITEURL = ""
RELATIVE_URLS = True
DEFAULT_LANG = "en"
TIMEZONE = "UTC"
DEFAULT_DATE_FORMAT = "%d %b %Y"
# The site's public source repository: its issue tracker is where readers report errors.
SOURCE_REPOSITORY_URL = "https://github.com/mood-evidence-atlas/mood-evidence-atlas"

PATH = "content"
THEME = str(_ROOT / "theme")
PLUGIN_PATHS = [str(_ROOT / "plugins")]
# prune last: its `finalized` removes stale output files after every other plugin has written
# (receivers run in PLUGINS order; search's `finalized` waits for its index first).
PLUGINS = ["speedups", "evidence", "feeds", "exports", "seo", "search", "prune"]

# Evidence cards are articles; editor pages (incl. topic explainers) are pages.
ARTICLE_PATHS = ["evidence"]
PAGE_PATHS = ["pages", "topics"]
STATIC_PATHS = ["images", "static"]
ARTICLE_EXCLUDES = []
PAGE_EXCLUDES = ["evidence"]
IGNORE_FILES = [".#*", ".*.tmp", "*.tmp", "README.md"]

# Card URLs are set per card by the evidence reader (evidence/<source>/<id>.html); this is the fallback.
ARTICLE_URL = "evidence/{slug}.html"
ARTICLE_SAVE_AS = "evidence/{slug}.html"
PAGE_URL = "{slug}/"
PAGE_SAVE_AS = "{slug}/index.html"
SLUGIFY_SOURCE = "basename"

# The site has its own listings (home, topic pages, facets) and feeds (plugins/feeds):
# switch off everything Pelican would otherwise generate on its own.
DIRECT_TEMPLATES = []
PAGINATED_TEMPLATES = {}
FEED_ALL_ATOM = None
FEED_ALL_RSS = None
FEED_ATOM = None
FEED_RSS = None
CATEGORY_FEED_ATOM = None
CATEGORY_FEED_RSS = None
TAG_FEED_ATOM = None
TAG_FEED_RSS = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
TRANSLATION_FEED_ATOM = None
TRANSLATION_FEED_RSS = None
TAG_SAVE_AS = ""
TAGS_SAVE_AS = ""
CATEGORY_SAVE_AS = ""
CATEGORIES_SAVE_AS = ""
AUTHOR_SAVE_AS = ""
AUTHORS_SAVE_AS = ""
ARCHIVES_SAVE_AS = ""
YEAR_ARCHIVE_SAVE_AS = ""
MONTH_ARCHIVE_SAVE_AS = ""
DAY_ARCHIVE_SAVE_AS = ""
DRAFT_SAVE_AS = ""
DRAFT_PAGE_SAVE_AS = ""
DEFAULT_PAGINATION = False
# One language: no translation grouping.  Pelican's grouping ends in a scan of every article per
# article (quadratic in the number of cards); None skips it (plugins/speedups).
ARTICLE_TRANSLATION_ID = None
DISPLAY_PAGES_ON_MENU = False
DISPLAY_CATEGORIES_ON_MENU = False

MARKDOWN = {
    "extension_configs": {
        "markdown.extensions.extra": {},
        "markdown.extensions.attr_list": {},
        "markdown.extensions.toc": {},
    },
    "output_format": "html5",
}

# Harvested text reaches templates as plain strings: autoescape makes escaping the default.
JINJA_ENVIRONMENT = {
    "trim_blocks": True,
    "lstrip_blocks": True,
    "autoescape": True,
    "extensions": [],
}

# Evidence plugin (plugins/evidence): the topics file, where the run reports live, how listings
# paginate.  EVIDENCE_TOPICS = None reads harvest/classification/topics.toml, the file the harvester uses.
EVIDENCE_TOPICS = None
EVIDENCE_DATA_PATH = str(_ROOT / "data")
EVIDENCE_PAGE_SIZE = 50
EVIDENCE_LATEST_COUNT = 10
# Date the "results overdue" flag is computed against; None = the last run report's finish date,
# else today.  Tests pin it.
EVIDENCE_REFERENCE_DATE = None
# Chart SVGs are cached here by a hash of the data they show.
EVIDENCE_CHART_CACHE = True

CACHE_PATH = str(_ROOT / "cache")
# Pelican's content cache: a rebuild reads only the cards whose bytes changed (md5 stamps, so a
# fresh checkout's new mtimes do not defeat it, and a rewrite in the same clock tick cannot hide).
# plugins/evidence/readcache.py drops it when anything else a card is read from changes
# (content/overrides.toml, SITEURL, the project's code).  Uncompressed: it is never published.
CACHE_CONTENT = True
LOAD_CONTENT_CACHE = True
CHECK_MODIFIED_METHOD = "md5"
GZIP_CACHE = False
