"""Every page links the first use of each glossary term to the glossary.

Checked on the MyST sources, so no build is needed. The prose of a page is
its text outside code cells, code blocks, math, headings, directive options
and the text of other roles and links (none of which can carry a
``{term}`` link). For each glossary entry the list below gives the wordings
that count as a use; the first use on a page must be a ``{term}`` role that
points to that entry (any of its names). Later uses need no link.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "book" / "glossary.md"
PAGES = ["book/intro", *sorted(f"chapters/{p.stem}" for p in (ROOT / "chapters").glob("[0-9][0-9]_*.md"))]

#: Glossary entry (its first name) -> regular expressions of the wordings that count as a use.
#: Abbreviations are case-sensitive; phrases are matched case-insensitively (``(?i:...)``).
USES: dict[str, list[str]] = {
    "Administrative division (A.D.)": [r"(?i:\badministrative divisions?\b)", r"(?<![\w.])A\.D\.(?!\w)"],
    "Balanced panel": [r"(?i:(?<!un)\bbalanced panels?\b)"],
    "Beta convergence": [r"(?i:\b(?:beta|β)[- ]convergence\b)"],
    "Bootstrap (m-out-of-n)": [r"(?i:\bbootstrap(?:s|ped|ping)?\b)"],
    "Charnes-Cooper transformation": [r"\bCharnes-Cooper\b"],
    "Chow test": [r"\bChow\b"],
    "Constant returns to scale (CRS)": [r"(?i:\bconstant returns to scale\b)", r"\bCRS\b"],
    "Current release (70% training)": [r"(?i:\bcurrent release\b)"],
    "Data envelopment analysis (DEA)": [r"(?i:\bdata envelopment analysis\b)", r"\bDEA\b"],
    "Decision-making unit (DMU)": [r"(?i:\bdecision-making units?\b)", r"\bDMUs?\b"],
    "First release (30% training)": [r"(?i:\bfirst release\b)"],
    "Flip share": [r"(?i:\bflip shares?\b)"],
    "Frontier (contemporaneous, sequential, global, window)": [r"(?i:(?<!global )\bfrontiers?\b)"],
    "Global frontier": [r"(?i:\bglobal frontiers?\b)"],
    "Global Malmquist-Luenberger (GML) index": [r"\bGML\b", r"(?i:\bglobal Malmquist-Luenberger\b)"],
    "Green total factor productivity (GTFP)": [
        r"(?i:\bgreen total factor productivity\b)",
        r"\bGTFP\b",
        r"(?i:\bgreen TFP\b)",
    ],
    "Growth path (original growth path)": [r"(?i:\bgrowth paths?\b)"],
    "Improved (protocol)": [r"(?i:\bimproved protocol\b)", r"\*improved\*"],
    "In-sample year": [r"(?i:\bin-sample\b)", r"(?i:\bout-of-sample\b)"],
    "Input window (lags)": [r"(?i:\binput windows?\b)"],
    "Known-answer test": [r"(?i:\bknown-answer\b)"],
    "Long short-term memory (LSTM)": [r"(?i:\blong short-term memory\b)", r"\bLSTMs?\b"],
    "Min-max scaling": [r"(?i:\bmin-max\b)"],
    "New quality productive forces (NQPF)": [r"(?i:\bnew quality productive forces?\b)", r"\bNQPF\b"],
    "Newey-West standard errors": [r"(?i:\bNewey-West\b)"],
    "Paper text, one step": [r"(?i:\bpaper text, one step\b)"],
    "Paper text, recursive": [r"(?i:\bpaper text, recursive\b)"],
    "Protocol": [r"(?i:\bprotocols?\b)"],
    "Random walk forecast": [r"(?i:\brandom[- ]walk\b)"],
    "Saturation": [r"(?i:\bsaturat(?:ion|es|ed|ing|e)\b)"],
    "Seed band": [r"(?i:\bseed bands?\b)"],
    "Sigma convergence": [r"(?i:\b(?:sigma|σ)[- ]convergence\b)"],
    "Slack": [r"(?i:\bslacks?\b(?!-based))"],
    "Slacks-based measure (SBM)": [r"(?i:\bslacks-based measure\b)", r"(?<!super-efficiency )\bSBM\b"],
    "Super-efficiency SBM": [r"(?i:\bsuper-efficiency\b)"],
    "Total factor productivity (TFP)": [
        r"(?i:(?<!green )\btotal factor productivity\b)",
        r"(?<![\w-])(?<!green )(?<!Green )TFP\b",
    ],
    "Training split": [r"(?i:\btraining splits?\b)"],
    "Undesirable output": [r"(?i:\bundesirable outputs?\b)", r"(?i:\bbad outputs?\b)"],
    "Variable returns to scale (VRS)": [r"(?i:\bvariable returns to scale\b)", r"\bVRS\b"],
}

#: A link to the first entry also counts as a linked use of the second (a special case of it).
IMPLIES = {"Global frontier": "Frontier (contemporaneous, sequential, global, window)"}

# Directives whose content is not prose; a fence without a directive ("```python") is code too.
_NOT_PROSE = ("code-cell", "code", "code-block", "math", "literalinclude", "raw", "bibliography", "glossary", "")
_FENCE = re.compile(r"^(`{3,}|~{3,})\s*(\{[^}]*\}|[\w-]*)")
# Inline spans without prose a term link could go into (other roles, code, math, link targets, comments).
_INLINE_MASKS = [
    re.compile(r"\{[\w:-]+\}`[^`]*`|`[^`]*`"),  # roles and inline code, left to right; term roles are kept
    re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$"),
    re.compile(r"\[[^\]]*\]\([^)]*\)"),
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"https?://\S+"),
]
_TERM_ROLE = re.compile(r"\{term\}`(?P<body>[^`]*)`")


def glossary_entries(text: str | None = None) -> dict[str, str]:
    """Every term name of the glossary (lower case) -> the first name of its entry."""
    text = text if text is not None else GLOSSARY.read_text(encoding="utf-8")
    body = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    names: dict[str, str] = {}
    current: list[str] = []
    for line in body.splitlines():
        if not line.strip() or line.startswith(":"):
            current = [] if not line.strip() else current
            continue
        if line[0].isspace():
            current = []
            continue
        if not current:
            current = [line.strip()]
        names[line.strip().lower()] = current[0]
    return names


def prose(text: str) -> str:
    """The page with everything that is not linkable prose blanked out, positions kept."""
    out = []
    lines = text.split("\n")
    stack: list[tuple[str, bool]] = []
    in_front = lines[0].strip() == "---"
    for i, line in enumerate(lines):
        blank = " " * len(line)
        if in_front:
            out.append(blank)
            if i > 0 and line.strip() == "---":
                in_front = False
            continue
        m = _FENCE.match(line)
        if m and stack and line.strip() == stack[-1][0]:
            stack.pop()
            out.append(blank)
            continue
        if m and (not stack or stack[-1][1]):
            name = m.group(2)[1:-1].strip() if m.group(2).startswith("{") else ""
            stack.append((m.group(1), name not in _NOT_PROSE))
            out.append(blank)
            continue
        if stack and not stack[-1][1]:
            out.append(blank)
            continue
        if (
            line.startswith("#")
            or re.match(r"^\(.*\)=\s*$", line)
            or re.match(r"^:[\w-]+:", line)
            or line.startswith("+++")
        ):
            out.append(blank)
            continue
        out.append(line)
    text = "\n".join(out)
    for mask in _INLINE_MASKS:
        text = mask.sub(
            lambda m: m.group(0) if m.group(0).startswith("{term}") else re.sub(r"[^\n]", " ", m.group(0)), text
        )
    return text


def term_target(body: str, names: dict[str, str]) -> str | None:
    m = re.match(r"(?s)(.*?)\s*<([^<>]+)>\s*$", body)
    target = (m.group(2) if m else body).strip().lower()
    return names.get(target)


def first_uses(text: str, names: dict[str, str]) -> dict[str, tuple[int, str | None]]:
    """For each glossary entry used on the page: (offset of its first use, the entry a term link there names)."""
    masked = prose(text)
    links = []  # (start, end, entry)
    for m in _TERM_ROLE.finditer(masked):
        links.append((m.start(), m.end(), term_target(m.group("body"), names)))
    in_link = [False] * len(masked)
    for start, end, _ in links:
        in_link[start:end] = [True] * (end - start)
    found = {}
    for entry, patterns in USES.items():
        hits = [(m.start(), None) for p in patterns for m in re.finditer(p, masked) if not in_link[m.start()]]
        hits += [(start, entry) for start, _, e in links if e == entry or IMPLIES.get(e) == entry]
        if hits:
            found[entry] = min(hits, key=lambda h: h[0])
    return found


def test_every_use_list_names_a_glossary_entry():
    names = glossary_entries()
    assert set(USES) <= set(names.values()), sorted(set(USES) - set(names.values()))


def test_every_term_link_names_a_glossary_entry():
    names = glossary_entries()
    bad = {}
    for page in [*PAGES, "book/glossary"]:
        text = (ROOT / f"{page}.md").read_text(encoding="utf-8")
        unknown = [m.group(0) for m in _TERM_ROLE.finditer(text) if term_target(m.group("body"), names) is None]
        if unknown:
            bad[page] = unknown
    assert not bad, f"{{term}} links to no glossary entry (the strict build fails on them): {bad}"


@pytest.mark.parametrize("page", PAGES)
def test_first_use_of_each_term_links_to_the_glossary(page):
    names = glossary_entries()
    text = (ROOT / f"{page}.md").read_text(encoding="utf-8")
    unlinked = {}
    for entry, (at, linked) in first_uses(text, names).items():
        if linked != entry:
            line = text.count("\n", 0, at) + 1
            unlinked[entry] = f"line {line}: {text.splitlines()[line - 1].strip()[:90]!r}"
    assert not unlinked, (
        f"{page}: the first use of these glossary terms is not a {{term}} link "
        f"(write {{term}}`text <Term name>`): {unlinked}"
    )
