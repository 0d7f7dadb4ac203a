"""The console's message catalogue: gettext catalogues (Dutch by default, English) read with Babel.

Every text a page shows is a message id (`nav.overview`, `field.voornaam`) looked up here;
the catalogues are `console/locale/<lang>/LC_MESSAGES/console.po`. They are compiled to
gettext's binary form in memory on first use, so a fresh clone works without a build step
and a `.mo` can never be stale. The language is the signed-in session's choice (sidebar);
outside a Streamlit run (tests, plain modules) it is the default, Dutch.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "console"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES: tuple[str, ...] = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
# Babel locale per UI language for numbers and dates. The club's data is Dutch, so the
# English UI keeps Dutch number and date formats (a 2.001 stays 2.001 in both).
FORMAT_LOCALE = "nl_NL"
LANGUAGE_KEY = "lang"  # session-state key of the user's choice

_override: ContextVar[str | None] = ContextVar("console_language", default=None)


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> gettext.GNUTranslations:
    """The compiled catalogue of `language` (compiled once per process from its .po)."""
    with po_path(language).open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def current_language() -> str:
    """The language of this run: a test's override, else the session's choice, else Dutch."""
    forced = _override.get()
    if forced:
        return forced
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx(suppress_warning=True)
        if ctx is not None and LANGUAGE_KEY in ctx.session_state:
            chosen = ctx.session_state[LANGUAGE_KEY]
            if chosen in LANGUAGES:
                return str(chosen)
    except Exception:  # noqa: S110 - no Streamlit run: the default language applies
        pass
    return DEFAULT_LANGUAGE


@contextmanager
def language(lang: str) -> Iterator[None]:
    """Texts in `lang` inside the block (for tests and for code outside a Streamlit run)."""
    token = _override.set(lang)
    try:
        yield
    finally:
        _override.reset(token)


def t(msgid: str, /, **values: Any) -> str:
    """The text of `msgid` in the current language, with `{name}` placeholders filled in."""
    text = translations(current_language()).gettext(msgid)
    return text.format(**values) if values else text


def N_(msgid: str) -> str:  # gettext's name for "a message id, translated later"
    """Mark `msgid` for the catalogue where it is defined; `t()` translates it where it is shown."""
    return msgid


def has(msgid: str, lang: str | None = None) -> bool:
    """Whether the catalogue of `lang` (default: current) translates `msgid`."""
    catalogue = translations(lang or current_language())
    return msgid in catalogue._catalog  # type: ignore[attr-defined]


def field_label(name: str) -> str:
    """A member field's (or computed column's) label: `field.<name>`; never the raw key."""
    msgid = f"field.{name}"
    if has(msgid):
        return t(msgid)
    # A field outside the catalogue (legacy records keep every value): readable, not a raw key.
    return name.replace("_", " ").capitalize()


def catalogue_messages(lang: str) -> dict[str, str]:
    """Every message id and its text in `lang` (for the completeness tests)."""
    with po_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    return {str(m.id): str(m.string) for m in catalog if m.id}
