"""Harvested text → plain text and safe inline HTML.

PubMed titles and abstracts carry a little inline markup (i, b, sup, sub, u) and sometimes MathML.
Every piece of harvested text becomes two strings:

* plain text: all markup removed, whitespace collapsed, Unicode NFC, control characters dropped;
* inline HTML: the same text, escaped, keeping only ``i``, ``b``, ``sup`` and ``sub``, then passed
  through nh3 (the Rust ``ammonia`` sanitizer) as the last word on what may reach a page.

``u`` becomes plain text (underlining reads as a link on the web).  MathML is rendered the way a
reader would write it inline: tokens joined, ``msup``/``msub``/``mmultiscripts`` as sup/sub (so the
isotope ``<mmultiscripts>Xe … 129`` reads "¹²⁹Xe" → ``<sup>129</sup>Xe``, plain "129Xe"), fractions as
``a/b``, roots as ``√(x)``; annotations are dropped.
"""

from __future__ import annotations

import html as _html
import re
import unicodedata

import nh3

KEPT_TAGS = frozenset({"i", "b", "sup", "sub"})

_CLEANER = nh3.Cleaner(
    tags=set(KEPT_TAGS),
    clean_content_tags={"script", "style"},
    attributes={},
    link_rel=None,
    strip_comments=True,
)

# C0/C1 controls other than whitespace, and lone surrogates (JSON "\\ud800" decodes to one, and it
# cannot be written as UTF-8); XML forbids most of these, JSON (ClinicalTrials.gov) does not.
_CTRL_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]")
_MATHML_NS = "{http://www.w3.org/1998/Math/MathML}"
_PADDED_OPERATORS = frozenset("=<>≤≥≈±×→")
_DROPPED = frozenset({"script", "style"})


def collapse(text: str | None) -> str:
    """NFC, no control characters, runs of whitespace → one space, stripped."""
    if not text:
        return ""
    if _CTRL_RE.search(text):
        text = _CTRL_RE.sub("", text)
    text = " ".join(text.split())  # str.split() knows every Unicode space, and is fast
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return text


def one_line(value: object) -> str:
    """Text on one line: every run of whitespace (newlines, tabs, U+2028...) becomes one space.

    For text bound for a line-based format (a card's front matter, RIS, a feed title, an error line).
    """
    if value is None:
        return ""
    # str.split() splits on the same Unicode whitespace as \s (U+2028, U+0085 included), faster.
    return " ".join(str(value).split())


def escape(text: str) -> str:
    return _html.escape(text, quote=False)


def _local(tag) -> str:
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    if tag.startswith("{"):
        return tag.rsplit("}", 1)[1]
    return tag.rsplit(":", 1)[-1]


def _is_math(tag) -> bool:
    return isinstance(tag, str) and (tag.startswith(_MATHML_NS) or tag.startswith("mml:"))


# ---------------------------------------------------------------------------------------------
# Element walking.  `text` and `html` are built side by side: html pieces are always escaped text
# or one of KEPT_TAGS, so nh3 sees nothing surprising, but it still has the final say.


def _walk(el, text: list[str], out: list[str]) -> None:
    if el.text:
        text.append(el.text)
        out.append(escape(el.text))
    for child in el:
        tag = child.tag
        if _is_math(tag):
            t, h = _math(child)
            text.append(t)
            out.append(h)
        else:
            name = _local(tag)
            if name in KEPT_TAGS:
                out.append(f"<{name}>")
                _walk(child, text, out)
                out.append(f"</{name}>")
            elif name in _DROPPED:  # never legitimate in PubMed text: drop with content
                pass
            elif name:  # u and anything unknown: keep the words, drop the tag
                _walk(child, text, out)
        if child.tail:
            text.append(child.tail)
            out.append(escape(child.tail))


def _math(el) -> tuple[str, str]:
    """A readable inline rendering of a MathML element: (plain, html)."""
    name = _local(el.tag)
    kids = [c for c in el if isinstance(c.tag, str)]
    if name in {"mi", "mn", "mo", "mtext", "ms"}:
        raw = "".join(el.itertext())
        token = raw if name == "mtext" else raw.strip()
        if name == "mo" and token in _PADDED_OPERATORS:
            token = f" {token} "
        return token, escape(token)
    if name in {"annotation", "annotation-xml", "mprescripts", "none"}:
        return "", ""
    if name == "semantics":
        return _math(kids[0]) if kids else ("", "")
    parts = [_math(k) for k in kids]
    if name in {"msup", "msub", "msubsup"} and parts:
        base_t, base_h = parts[0]
        t, h = base_t, base_h
        tags = {"msup": ("sup",), "msub": ("sub",), "msubsup": ("sub", "sup")}[name]
        for tag, (pt, ph) in zip(tags, parts[1:]):
            t += pt
            h += f"<{tag}>{ph}</{tag}>" if ph else ""
        return t, h
    if name == "mmultiscripts" and parts:
        names = [_local(k.tag) for k in kids]
        split = names.index("mprescripts") if "mprescripts" in names else len(kids)
        base = parts[0]
        post = parts[1:split]
        pre = parts[split + 1 :]

        def scripts(pairs):
            t = h = ""
            for i, (pt, ph) in enumerate(pairs):
                tag = "sub" if i % 2 == 0 else "sup"
                t += pt
                h += f"<{tag}>{ph}</{tag}>" if ph else ""
            return t, h

        pre_t, pre_h = scripts(pre)
        post_t, post_h = scripts(post)
        return pre_t + base[0] + post_t, pre_h + base[1] + post_h
    if name == "mfrac" and len(parts) == 2:
        (nt, nh), (dt, dh) = parts
        return f"{nt}/{dt}", f"{nh}/{dh}"
    if name == "msqrt":
        t = "".join(p[0] for p in parts)
        h = "".join(p[1] for p in parts)
        return f"√({t})", f"√({h})"
    if name == "mroot" and len(parts) == 2:
        (bt, bh), (it, ih) = parts
        return f"{it}√({bt})", f"<sup>{ih}</sup>√({bh})"
    t = "".join(p[0] for p in parts)
    h = "".join(p[1] for p in parts)
    if name == "mfenced":
        op, cl = el.get("open", "("), el.get("close", ")")
        return f"{op}{t}{cl}", f"{escape(op)}{h}{escape(cl)}"
    return t, h


def inline(el) -> tuple[str, str]:
    """(plain text, safe inline HTML) of an XML element such as ArticleTitle or AbstractText."""
    if el is None:
        return "", ""
    if len(el) == 0:  # the common case: no markup at all
        t = collapse(el.text)
        return t, escape(t)
    text: list[str] = []
    out: list[str] = []
    _walk(el, text, out)
    plain = collapse("".join(text))
    return plain, sanitize_html("".join(out))


def clean_inline(markup: str | None) -> str:
    """nh3 with only i/b/sup/sub kept (no attributes): the one policy for harvested inline markup."""
    return _CLEANER.clean(markup or "")


def sanitize_html(fragment: str) -> str:
    """nh3 with only i/b/sup/sub kept (no attributes), whitespace collapsed."""
    return collapse(_CLEANER.clean(collapse(fragment)))


def text_html(text: str | None) -> tuple[str, str]:
    """(plain, html) for a source that is plain text, not markup (ClinicalTrials.gov)."""
    t = collapse(text)
    return t, escape(t)
