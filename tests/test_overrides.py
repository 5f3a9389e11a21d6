"""Editor overrides: content/overrides.toml → hide / pin / replace, recorded on the card."""

from __future__ import annotations

import copy
import re

import pytest
from conftest import ROOT, config_error, real_data

from harvest.cards.card import parse_card, render_card
from harvest.cards.overrides import OVERRIDES_PATH, apply_overrides, check_overrides, load_overrides
from harvest.errors import ConfigError
from harvest.sources.pubmed.parse import parse_pubmed

KETAMINE = "metapub/tests/fixtures/pmid_xml/38011560.xml"


def ketamine() -> dict:
    return parse_pubmed(real_data(KETAMINE), KETAMINE).records[0]


def write(tmp_path, text: str):
    path = tmp_path / "overrides.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_file_is_documented_and_inactive():
    assert OVERRIDES_PATH == ROOT / "content" / "overrides.toml"
    text = OVERRIDES_PATH.read_text(encoding="utf-8")
    assert "reason" in text and "hide" in text and "pin" in text and "replace" in text
    assert load_overrides() == {}


def test_commented_example_is_valid_when_activated(tmp_path):
    text = OVERRIDES_PATH.read_text(encoding="utf-8")
    example = text[text.index('# [["pubmed:'):]
    active = "\n".join(re.sub(r"^# ?", "", line) for line in example.splitlines())
    overrides = load_overrides(write(tmp_path, active))
    assert [o.action for o in overrides["pubmed:38011560"]] == ["replace", "pin"]


def test_missing_file_means_no_overrides(tmp_path):
    assert load_overrides(tmp_path / "none.toml") == {}


def test_hide_pin_replace_are_applied_and_recorded(tmp_path):
    path = write(
        tmp_path,
        """
[["pubmed:38011560"]]
action = "replace"
field = "title"
value = "Ketamine and the <neurobiology> of depression"
reason = "Publisher corrected the title"
date = 2026-11-20

[["pubmed:38011560"]]
action = "pin"
reason = "Landmark review"
date = "2026-11-21"

[["pubmed:38011560"]]
action = "replace"
field = "topics"
value = ["ketamine", "psilocybin"]
reason = "Editor decision"
date = 2026-11-22

[["pubmed:9997"]]
action = "hide"
reason = "Not about a mood disorder"
date = 2026-11-22
""",
    )
    overrides = load_overrides(path)
    original = ketamine()
    record, editor = apply_overrides(original, overrides)
    assert original == ketamine()  # input untouched
    assert record["title"] == "Ketamine and the <neurobiology> of depression"
    assert record["title_html"] == "Ketamine and the &lt;neurobiology&gt; of depression"
    assert record["topics"] == ["ketamine", "psilocybin"]
    assert editor["hidden"] is False and editor["pinned"] is True
    assert editor["changes"] == [
        {
            "field": "title",
            "from": original["title"],
            "to": "Ketamine and the <neurobiology> of depression",
            "reason": "Publisher corrected the title",
            "date": "2026-11-20",
        },
        {"field": "topics", "from": [], "to": ["ketamine", "psilocybin"], "reason": "Editor decision", "date": "2026-11-22"},
    ]
    assert editor["notes"] == [{"action": "pin", "reason": "Landmark review", "date": "2026-11-21"}]
    # the card carries it, and reading the card gives it back
    assert parse_card(render_card(record, editor)) == (record, editor)
    # other records are untouched
    other = parse_pubmed(real_data("biopython-sdist-1.88/Tests/Entrez/pubmed1.xml"), "p").records
    hidden = {r["pmid"]: apply_overrides(r, overrides) for r in other}
    assert hidden["12091962"] == (other[0], None)
    assert hidden["9997"][1] == {
        "hidden": True,
        "pinned": False,
        "changes": [],
        "notes": [{"action": "hide", "reason": "Not about a mood disorder", "date": "2026-11-22"}],
    }


def test_replacing_the_abstract_fills_its_html(tmp_path):
    path = write(
        tmp_path,
        """
[["pubmed:38011560"]]
action = "replace"
field = "abstract"
value = [{label = "Summary", text = "Ketamine <i>works</i>."}]
reason = "Abstract garbled by the publisher"
date = 2026-11-22
""",
    )
    record, editor = apply_overrides(ketamine(), load_overrides(path))
    assert record["abstract"] == [
        {"label": "Summary", "text": "Ketamine <i>works</i>.", "html": "Ketamine &lt;i&gt;works&lt;/i&gt;."}
    ]
    assert editor["changes"][0]["field"] == "abstract"


@pytest.mark.parametrize(
    "entry,message",
    [
        ('action = "hide"\ndate = 2026-11-22', "entry 1: reason is required"),
        ('action = "hide"\nreason = "x"', "entry 1: date is required"),
        ('action = "hide"\nreason = "x"\ndate = "22/11/2026"', "date is required"),
        ('action = "hide"\nreason = "x"\ndate = "2026-02-30"', "date is required"),
        ('action = "delete"\nreason = "x"\ndate = 2026-11-22', "action must be one of"),
        ('action = "replace"\nfield = "colour"\nvalue = "x"\nreason = "x"\ndate = 2026-11-22', "unknown field 'colour'"),
        ('action = "replace"\nfield = "pmid"\nvalue = "1"\nreason = "x"\ndate = 2026-11-22', "cannot be replaced"),
        ('action = "replace"\nfield = "year"\nvalue = "2020"\nreason = "x"\ndate = 2026-11-22', "wrong type for year"),
        ('action = "replace"\nfield = "title"\nreason = "x"\ndate = 2026-11-22', "needs a value"),
        ('action = "pin"\nfield = "title"\nreason = "x"\ndate = 2026-11-22', "takes no field"),
        ('action = "pin"\nreason = "x"\ndate = 2026-11-22\nwhy = "?"', "unknown keys why"),
    ],
)
def test_invalid_entries_name_the_file_and_entry(tmp_path, entry, message):
    path = write(tmp_path, f'[["pubmed:38011560"]]\n{entry}\n')
    text = config_error(load_overrides, path)
    assert text.startswith(f"{path}:1: pubmed:38011560 entry 1: ") and message in text


def test_invalid_record_id_and_toml(tmp_path):
    with pytest.raises(ConfigError, match="'pubmed:abc': not a record id"):
        load_overrides(write(tmp_path, '[["pubmed:abc"]]\naction = "hide"\nreason = "x"\ndate = 2026-11-22\n'))
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_overrides(write(tmp_path, '[["pubmed:1"]\n'))


def test_no_override_means_no_editor_info():
    record = ketamine()
    assert apply_overrides(record, {}) == (record, None)
    assert apply_overrides(copy.deepcopy(record), {"ctgov:NCT00973089": []}) == (record, None)


def test_problems_name_the_line_of_the_entry(tmp_path):
    path = write(tmp_path, """# comment
[["pubmed:38011560"]]
action = "pin"
reason = "ok"
date = 2026-11-22

[["pubmed:38011560"]]   # the second entry of the same record
action = "hide"
date = 2026-11-22
""")
    assert config_error(load_overrides, path) == f"{path}:7: pubmed:38011560 entry 2: reason is required"
    # invalid TOML: tomllib's own line
    bad_toml = write(tmp_path, '# x\n\n[["pubmed:1"]\n')
    assert config_error(load_overrides, bad_toml).startswith(f"{path}:3: invalid TOML: ")


def with_override_problems(content) -> tuple:
    """`content` given the real ketamine card and an overrides.toml with one problem of each kind:
    (the file, the lines `check` reports for it, in order)."""
    (content / "evidence" / "pubmed").mkdir(parents=True)
    # a card of the real ketamine record, as the harvester writes it
    (content / "evidence" / "pubmed" / "38011560.md").write_text(render_card(ketamine()), encoding="utf-8")
    path = write(content, """[["pubmed:38011560"]]
action = "pin"
reason = "Landmark review"
date = 2026-11-22

[["pubmed:38011560"]]
action = "replace"
field = "colour"
value = "x"
reason = "typo"
date = 2026-11-22

[["pubmed:1234"]]
action = "hide"
reason = "duplicate"
date = 2026-11-22

[["ctgov:NCT00973089"]]
action = "pin"

[["pubmed:38011560"]]
action = "replace"
field = "title"
value = "A title"
date = 2026-11-22
""")
    return path, [
        f"{path}:6: pubmed:38011560 entry 2: cannot replace unknown field 'colour'",
        f"{path}:21: pubmed:38011560 entry 3: reason is required",
        f"{path}:18: ctgov:NCT00973089 entry 1: reason is required; date is required (YYYY-MM-DD)",
        f"{path}:13: pubmed:1234: no card with this id ({content}/evidence/pubmed/1234.md does not exist)",
    ]


def test_check_lists_every_problem_one_line_each(tmp_path):
    content = tmp_path / "content"
    path, problems = with_override_problems(content)
    assert check_overrides(path, content) == problems
    # a clean file has no problem; a missing file is no override at all
    assert check_overrides(write(content, '[["pubmed:38011560"]]\naction = "pin"\nreason = "x"\ndate = 2026-11-22\n'),
                           content) == []
    assert check_overrides(content / "none.toml", content) == []
