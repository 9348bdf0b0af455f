"""The portal's two catalogs have the same keys, every key a page uses exists, and dates
and numbers follow the locale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aidc.portal import i18n
from aidc.portal.i18n import en, ko

PORTAL = Path(i18n.__file__).parent.parent
# t("key") and t('key') in templates and routes; t("prefix." + x) names a family of keys.
LITERAL = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z_.\-]+)["'](?!\s*\+)""")
FAMILY = re.compile(r"""\bt(\.state)?\(\s*["']([a-z_]+\.[a-z_]*)["']\s*\+""")


def _sources() -> list[Path]:
    return [*PORTAL.glob("templates/*.html"), *PORTAL.glob("routes/*.py")]


def test_both_locales_have_exactly_the_same_keys() -> None:
    assert set(en.MESSAGES) - set(ko.MESSAGES) == set()
    assert set(ko.MESSAGES) - set(en.MESSAGES) == set()


def test_no_message_is_empty_and_placeholders_agree() -> None:
    for key, text in en.MESSAGES.items():
        assert text and ko.MESSAGES[key], key
        assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", ko.MESSAGES[key]))


def test_every_key_the_pages_use_is_in_the_catalogs() -> None:
    used = {k for f in _sources() for k in LITERAL.findall(f.read_text())}
    assert len(used) > 100
    assert sorted(used - set(en.MESSAGES)) == []
    families = {k for f in _sources() for k in FAMILY.findall(f.read_text())}
    assert len(families) >= 5
    for state, prefix in families:
        present = ("state." if state else "") + prefix
        assert any(k.startswith(present) for k in en.MESSAGES), present


def test_every_job_state_and_wait_reason_is_translated() -> None:
    from aidc.core.job_states import JobState

    for state in JobState:
        assert f"state.{state}" in ko.MESSAGES
    for reason in ("quota", "capacity", "topology", "reserved", "priority", "credits"):
        assert f"state.wait.{reason}" in ko.MESSAGES


@pytest.mark.parametrize(
    ("lang", "number", "date"),
    [("en", "1,234.5", "Dec 1, 2026"), ("ko", "1,234.5", "2026. 12. 1.")],
)
def test_numbers_and_dates_follow_the_locale(lang: str, number: str, date: str) -> None:
    t = i18n.Translator(lang)
    assert t.number(1234.5) == number
    assert t.datetime(1_796_083_200.0).startswith(date)  # 2026-12-01 00:00 UTC
    assert t.datetime(None) == "—"


def test_the_language_comes_from_the_cookie_then_the_browser() -> None:
    assert i18n.pick("ko", "en-US") == "ko"
    assert i18n.pick(None, "ko-KR,ko;q=0.9,en;q=0.8") == "ko"
    assert i18n.pick("xx", "fr-FR") == "en"
    assert i18n.Translator("ko")("job.title", id="x") == "작업 x"
    assert i18n.Translator("ko")("no.such.key") == "no.such.key"
