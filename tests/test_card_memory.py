"""What the evidence reader keeps for every card is kept once (plugins/evidence/reader.py): a build
holds every card until it ends, so copies grow with the atlas.  Nothing a reader sees changes."""

from __future__ import annotations

import copy
import sys

from pelican import signals
from pelican.contents import Article
from pelican.settings import DEFAULT_CONFIG

from sitebuild import ROOT

sys.path.insert(0, str(ROOT / "plugins"))
from evidence import reader  # noqa: E402  (the plugin itself)

CARDS = ROOT / "content" / "evidence"
# A real PubMed card (from the recordings) with five labelled sections, two of them with markup.
LABELLED = CARDS / "pubmed" / "41407123.md"


def read(path):
    settings = copy.deepcopy(DEFAULT_CONFIG)
    settings["PATH"] = str(ROOT / "content")
    return reader.EvidenceReader(settings).read(str(path)), settings


def test_equal_text_and_html_are_one_string_and_short_strings_are_shared():
    (_content, meta), _ = read(LABELLED)
    (_other, other), _ = read(CARDS / "pubmed" / "41308888.md")
    record = meta["record"]
    plain = [s for s in record["abstract"] if s["html"] == s["text"]]
    assert plain and all(s["html"] is s["text"] for s in plain)
    assert record["title_html"] is record["title"]
    # Values many cards repeat are held once, whichever card they came from.
    assert record["source"] is other["record"]["source"]
    assert record["abstract"][0]["label"] is other["record"]["abstract"][0]["label"] == "BACKGROUND"


def test_card_content_is_made_only_when_read():
    (content, meta), settings = read(LABELLED)
    assert content == ""  # nothing held for every card
    signals.content_object_init.connect(reader.lazy_content)
    try:
        article = Article(content, meta, settings=settings, source_path=str(LABELLED), context={})
    finally:
        signals.content_object_init.disconnect(reader.lazy_content)
    record, shown = meta["record"], meta["safe_html"]["abstract"]
    html = article.content
    labels = [s["label"] for s in record["abstract"]]
    assert html.startswith("<h3>BACKGROUND</h3>\n<p>")
    assert [part.split("</h3>")[0] for part in html.split("<h3>")[1:]] == labels
    assert html.count("<p>") == len(labels)
    for section, cleaned in zip(record["abstract"], shown):
        assert f"<p>{cleaned}</p>" in html  # the sanitized markup, as the card page shows it
    assert any(s["html"] != s["text"] for s in record["abstract"])
    assert article.summary  # Pelican's summary is cut from that content
