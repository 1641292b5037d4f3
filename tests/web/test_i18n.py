from __future__ import annotations

from eta.web import i18n


def test_accept_language_picks_the_best_offered_language() -> None:
    assert i18n.negotiate("de-DE,de;q=0.9,en;q=0.8") == "de"
    assert i18n.negotiate("it-IT, fr;q=0.5, en;q=0.4") == "fr"
    assert i18n.negotiate("en;q=0.2, de;q=0.7") == "de"
    assert i18n.negotiate("fr-CH, de") == "fr"  # equal quality: the first listed
    assert i18n.negotiate("it, es") == "en"
    assert i18n.negotiate(None) == "en"
    assert i18n.negotiate("de;q=oops, fr;q=0.1") == "fr"


def test_the_query_then_the_cookie_then_the_browser_decide() -> None:
    assert i18n.choose("fr", "de", "en") == "fr"
    assert i18n.choose(None, "de", "fr") == "de"
    assert i18n.choose("xx", "yy", "de-AT") == "de"


def test_every_language_has_every_message_and_the_same_placeholders() -> None:
    import re

    english = i18n.MESSAGES["en"]
    for lang in i18n.LANGUAGES:
        words = i18n.MESSAGES[lang]
        assert set(words) == set(english), lang
        for key, text in english.items():
            assert set(re.findall(r"\{(\w+)\}", words[key])) == set(re.findall(r"\{(\w+)\}", text)), (
                lang,
                key,
            )
