"""harvest/classification/topics.toml: the seven shipped topics and the loader's validation."""

from __future__ import annotations

import re

import pytest
from conftest import config_error

from harvest.classification.topics import TOPICS_PATH, Topic, load_topics
from harvest.errors import ConfigError

SLUGS = ["tms", "ketamine", "psilocybin", "light-therapy", "pgx", "ect", "digital-therapeutics"]


def test_ships_seven_topics_in_order():
    topics = load_topics()
    assert [t.slug for t in topics] == SLUGS
    assert all(isinstance(t, Topic) for t in topics)
    assert load_topics(TOPICS_PATH) == topics  # default path is the package file


def test_queries_are_complete_and_scoped_to_mood_disorders():
    for t in load_topics():
        assert "{scope}" not in t.pubmed_query
        assert t.pubmed_query.count("(") == t.pubmed_query.count(")")
        assert '"Depressive Disorder"[mh]' in t.pubmed_query and "bipolar[tiab]" in t.pubmed_query
        assert t.ctgov and all(k.startswith("query.") for k in t.ctgov)
        assert "depression" in t.ctgov["query.cond"] and "{scope}" not in t.ctgov["query.cond"]
        assert t.ctgov["query.intr"]
        assert t.terms and t.scope_terms and t.scope_mesh
        assert "respiratory depression" in t.ignore
        assert t.name and t.summary and t.url == f"/topics/{t.slug}/"


def test_topic_specific_terms():
    topics = {t.slug: t for t in load_topics()}
    assert {"ketamine", "esketamine"} <= set(topics["ketamine"].terms)
    assert "Ketamine" in topics["ketamine"].mesh
    assert "Transcranial Magnetic Stimulation" in topics["tms"].mesh
    assert "Psilocybin" in topics["psilocybin"].mesh
    assert {"bright light therapy", "chronotherapy"} <= set(topics["light-therapy"].terms)
    assert "Pharmacogenomic Testing" in topics["pgx"].mesh


def test_topics_are_hashable_and_frozen():
    t = load_topics()[0]
    assert hash(t) == hash(load_topics()[0])
    with pytest.raises(AttributeError):
        t.slug = "x"  # type: ignore[misc]


def write(tmp_path, text: str):
    path = tmp_path / "topics.toml"
    path.write_text(text, encoding="utf-8")
    return path


def shipped() -> str:
    return TOPICS_PATH.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda s: s.replace('slug = "pgx"', 'slug = "PGx Testing"'), "slug must be"),
        (lambda s: s.replace('slug = "pgx"', 'slug = "tms"'), "duplicate slug"),
        (lambda s: s.replace('slug = "pgx"', 'slug = "all"'), "slug 'all' is reserved"),
        (lambda s: s.replace('name = "Psilocybin"\n', ""), "topic 'psilocybin': name must be"),
        (lambda s: s.replace('"query.intr" = "psilocybin OR psilocin OR COMP360"', '"intr" = "psilocybin"'), "ctgov.intr"),
        (lambda s: s.replace("[scope]", "[scoop]").replace("[scope.", "[scoop."), "[scope]: missing table"),
        (lambda s: s.replace('slug = "tms"', 'slug = "tms"\ncolour = "blue"'), "unknown keys colour"),
        (lambda s: s.replace('mesh = ["Psilocybin"]', 'mesh = "Psilocybin"'), "mesh must be a list"),
        (lambda s: s.replace('TMS = ["transcranial"', 'TMSX = ["transcranial"'), "context.TMSX: not one of the terms"),
        (lambda s: s.replace('SAD = ["seasonal"', 'SAD = "seasonal" #'), "[scope] context: SAD must be a non-empty list"),
        (lambda s: s.replace('hints = ["psychedelic"', 'hints = "psychedelic" #'), "topic 'psilocybin': hints must be a list"),
        (lambda s: re.sub(r"healthy = \[[^\]]*\]", 'healthy = "healthy volunteer"', s), "[scope]: healthy must be a list"),
        (lambda s: s + "\n[[topic]\n", "invalid TOML"),
        (lambda s: s.split("\n[[topic]]\n")[0], "no topics defined"),
    ],
)
def test_bad_config_is_a_config_error_naming_the_file(tmp_path, change, message):
    path = write(tmp_path, change(shipped()))
    text = config_error(load_topics, path)
    assert text.startswith(f"{path}: ") and message in text


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read topics file"):
        load_topics(tmp_path / "nope.toml")


def test_not_utf8(tmp_path):
    path = tmp_path / "topics.toml"
    path.write_bytes(shipped().encode("utf-8").replace(b"Psilocybin", b"Psilocyb\xffn", 1))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_topics(path)
