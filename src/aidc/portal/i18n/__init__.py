"""The portal's two languages: a message dict per locale (``en``, ``ko``) and Babel for
dates and numbers. Dicts, not gettext catalogs: nothing to compile at build time, a key
missing in either locale fails a unit test, and the portal has a few hundred strings."""

from __future__ import annotations

import datetime as dt

from babel.dates import format_datetime
from babel.numbers import format_decimal, format_percent

from aidc.portal.i18n.en import MESSAGES as EN
from aidc.portal.i18n.ko import MESSAGES as KO

CATALOGS: dict[str, dict[str, str]] = {"en": EN, "ko": KO}
LOCALES = tuple(CATALOGS)
DEFAULT = "en"


def pick(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's language; else the first of the browser's we have; else English."""
    if cookie in CATALOGS:
        return str(cookie)
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in CATALOGS:
            return code
    return DEFAULT


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in CATALOGS else DEFAULT
        self._messages = CATALOGS[self.lang]

    def __call__(self, key: str, **values: object) -> str:
        # An unknown key shows itself (and the catalog test names it), never a blank.
        text = self._messages.get(key) or EN.get(key) or key
        return text.format(**values) if values else text

    def datetime(self, t: float | None) -> str:
        if t is None:
            return "—"
        when = dt.datetime.fromtimestamp(t, dt.UTC)
        return format_datetime(when, format="medium", tzinfo=dt.UTC, locale=self.lang) + " UTC"

    def number(self, x: float | None, digits: int = 1) -> str:
        if x is None:
            return "—"
        pattern = "#,##0" + ("." + "#" * digits if digits else "")
        return str(format_decimal(x, format=pattern, locale=self.lang))

    def percent(self, x: float | None) -> str:
        return "—" if x is None else str(format_percent(x, format="#,##0.#%", locale=self.lang))

    def state(self, value: str) -> str:
        return self(f"state.{value}") if f"state.{value}" in self._messages else value
