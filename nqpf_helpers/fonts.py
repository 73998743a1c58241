"""Chinese text in matplotlib figures on any machine, with or without system CJK fonts.

matplotlib's default font (DejaVu Sans) has no Chinese glyphs, so a label such
as 年份 is drawn as empty boxes with a "Glyph ... missing from font(s)" warning,
and matplotlib does not look in other installed fonts by itself.  The PyPI
package ``mplfonts`` ships Noto Sans CJK SC (SIL Open Font License); this module
registers that font file with matplotlib's font manager and appends its family
to ``rcParams["font.family"]`` as a fallback: Latin text and digits keep the
default sans-serif font, and only glyphs it lacks come from Noto Sans CJK SC.

:func:`use_chinese_fonts` is called by :mod:`nqpf_helpers.plots` when it is
imported and by the report, so chapter figures and the ``nqpf run`` report
render Chinese without any set-up by the reader.  It is idempotent and does
not need a system font.
"""

from __future__ import annotations

import importlib.util
import logging
from functools import lru_cache
from pathlib import Path

from .errors import MissingDependencyError

__all__ = ["CJK_FAMILY", "cjk_font_path", "cjk_font_subset", "use_chinese_fonts"]

CJK_FAMILY = "Noto Sans CJK SC"
"""Family name of the packaged Chinese fallback font."""

_FONT_FILE = "NotoSansCJKsc-Regular.otf"


def cjk_font_path() -> str:
    """Path of the Noto Sans CJK SC font file shipped by ``mplfonts``.

    Raises
    ------
    MissingDependencyError
        ``mplfonts`` is not installed (it is a dependency of ``nqpf-helpers``;
        reinstall with ``pip install nqpf-helpers``).
    """
    # Locate the package without importing it (its import pulls in font-management tools).
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "Chinese labels need the font package mplfonts (a dependency of nqpf-helpers); "
            "install it with `pip install mplfonts`."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / _FONT_FILE
    if not path.is_file():  # pragma: no cover - a damaged installation
        raise MissingDependencyError(
            f"the font file {path} is missing; reinstall it with `pip install --force-reinstall mplfonts`."
        )
    return str(path)


class _OnlyRegularCJK(logging.Filter):
    """Drop matplotlib's "Failed to find font weight ... for Noto Sans CJK SC" message.

    The packaged font has one weight (Regular).  Bold text (e.g. highlighted
    labels) asks every family of the fallback list for a bold face, and
    matplotlib logs a warning on stderr when the Chinese fallback has none,
    although the text is drawn as intended (bold Latin, regular Chinese).  On
    stderr it fails strict notebook builds.  Only this message for this family
    is dropped; every other font warning passes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        msg = str(record.msg)
        args = record.args if isinstance(record.args, tuple) else ()
        return not (msg.startswith("findfont: Failed to find font weight") and len(args) >= 2 and args[1] == CJK_FAMILY)


_CJK_WEIGHT_FILTER = _OnlyRegularCJK()


@lru_cache(maxsize=1)
def _register() -> str:
    from matplotlib import font_manager

    if not any(f.name == CJK_FAMILY for f in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(cjk_font_path())
    logging.getLogger("matplotlib.font_manager").addFilter(_CJK_WEIGHT_FILTER)
    return CJK_FAMILY


def use_chinese_fonts() -> list[str]:
    """Let matplotlib draw Chinese characters, falling back to Noto Sans CJK SC.

    Registers the packaged font (once per process) and appends its family to
    ``matplotlib.rcParams["font.family"]`` if it is not there yet.  Text
    created afterwards uses the first family for every glyph it has and the
    Chinese font for the rest.  Calling it again (e.g. after
    ``matplotlib.rcdefaults()``) restores the fallback.

    Returns
    -------
    list of str
        The resulting ``font.family`` list.
    """
    import matplotlib

    family = _register()
    current = matplotlib.rcParams["font.family"]
    current = [current] if isinstance(current, str) else list(current)
    if family not in current:
        matplotlib.rcParams["font.family"] = current + [family]
    return list(matplotlib.rcParams["font.family"])


def cjk_font_subset(text: str) -> bytes | None:
    """The packaged Chinese font cut down to the characters of ``text``, for embedding in HTML.

    A report opened on a machine without a Chinese system font would show
    empty boxes; an ``@font-face`` with this subset (a few kB per hundred
    characters) lets any browser draw it.  Returns ``None`` when ``text`` has
    no characters beyond ASCII.
    """
    import io

    from fontTools import subset

    wanted = "".join(sorted({ch for ch in text if ord(ch) > 127}))
    if not wanted:
        return None
    options = subset.Options()
    options.layout_features = []
    options.name_IDs = ["*"]
    options.notdef_outline = True
    font = subset.load_font(cjk_font_path(), options, lazy=True)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=wanted)
    subsetter.subset(font)
    buf = io.BytesIO()
    subset.save_font(font, buf, options)
    return buf.getvalue()
