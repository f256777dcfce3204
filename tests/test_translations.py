"""Translations: what a person reads comes in German and French, and English where no catalog
has it; the shipped catalogs are complete, keep every placeholder, and are compiled."""

import ast
import gettext
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command, load_command_class
from django.core.management.base import SystemCheckError
from django.test import override_settings
from django.utils import translation

import cdp_bridge
from cdp_bridge.checks import check_settings
from cdp_bridge.conf import cdp_settings
from cdp_bridge.exceptions import ConfigurationError
from cdp_bridge.models import SegmentGroup, WebhookDelivery

from .webhook.conftest import GROUP, WEBHOOK, basic, configuration

LOCALE = Path(cdp_bridge.__file__).parent / "locale"
LANGUAGES = ("de", "fr")
LOCALE_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ADMIN_MIDDLEWARE = [
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

# A configuration with an unknown key (cdp_bridge.E001) and a client secret too short (E008).
BROKEN = {
    "webhok": {},
    "system": {
        "default": {
            "cdp": {
                "activations": [
                    {
                        "client_id": "raptor",
                        "client_secret": "short-secret",
                        "segment_group_identifier": "cdp",
                    }
                ]
            }
        }
    },
}
UNKNOWN_KEY = {
    "de": ("webhok: (cdp_bridge.E001) unbekannter Schlüssel.", "Meinten Sie 'webhook'?"),
    "fr": ("webhok: (cdp_bridge.E001) clé inconnue.", "Vouliez-vous dire 'webhook' ?"),
}
SHORT_SECRET = {
    "de": "das Client-Secret ist kürzer als 16 Zeichen.",
    "fr": "le secret client fait moins de 16 caractères.",
}


@pytest.fixture(autouse=True)
def no_language_left_active():
    """LocaleMiddleware activates the request's language and leaves it active in the thread,
    where the test client runs: later tests must not inherit it."""
    yield
    translation.deactivate()


@pytest.fixture
def configure(cdp_config):
    """The webhook's activation configured (its segment group not created)."""
    cdp_config(configuration())


@pytest.fixture
def group(db, configure):
    return SegmentGroup.objects.create(identifier=GROUP, name="CDP audiences")


def check_messages(check_id):
    return [message for message in check_settings() if message.id == check_id]


# -- system checks --------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_check_message_and_its_hint_are_in_the_active_language(cdp_config, language):
    cdp_config(BROKEN)
    with translation.override(language):
        [unknown] = check_messages("cdp_bridge.E001")
        [short] = check_messages("cdp_bridge.E008")
    message, hint = UNKNOWN_KEY[language]
    assert str(unknown).splitlines()[0] == message
    assert unknown.hint == hint
    assert short.msg == SHORT_SECRET[language]
    assert short.hint != "Use a random secret of at least 32 characters."


def test_the_same_configuration_reads_in_each_language_it_is_checked_in(cdp_config):
    """The problems are cached per language: a German check does not leave German behind."""
    cdp_config(BROKEN)
    with translation.override("de"):
        assert check_messages("cdp_bridge.E008")[0].msg == SHORT_SECRET["de"]
    with translation.override("fr"):
        assert check_messages("cdp_bridge.E008")[0].msg == SHORT_SECRET["fr"]
    [english] = check_messages("cdp_bridge.E008")
    assert english.msg == "the client secret is shorter than 16 characters."


@pytest.mark.parametrize("language", LANGUAGES)
def test_manage_py_check_reports_in_language_code(cdp_config, settings, language):
    settings.LANGUAGE_CODE = language
    cdp_config(BROKEN)
    with pytest.raises(SystemCheckError) as raised:
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
    report = str(raised.value)
    message, hint = UNKNOWN_KEY[language]
    assert message in report
    assert f"HINT: {hint}" in report
    assert SHORT_SECRET[language] in report


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "de",
            "CDP-Konfiguration (settings.CDP_BRIDGE): system.default.cdp.activations[0]."
            "client_secret: das Client-Secret ist kürzer als 16 Zeichen.",
        ),
        (
            "fr",
            "Configuration CDP (settings.CDP_BRIDGE) : system.default.cdp.activations[0]."
            "client_secret: le secret client fait moins de 16 caractères.",
        ),
    ],
)
def test_a_configuration_error_counts_the_other_problems_in_the_language(
    cdp_config, language, expected
):
    cdp_config(BROKEN)
    with translation.override(language), pytest.raises(ConfigurationError) as raised:
        cdp_settings()
    assert str(raised.value).startswith(expected)
    # One more problem: German says "1 weiteres", French "1 autre" (the singular forms).
    assert ("1 weiteres" if language == "de" else "1 autre :") in str(raised.value)


# -- the webhook ----------------------------------------------------------------------------

WRONG_CREDENTIALS = {
    "de": "unbekannte Client-ID oder falsches Client-Secret.",
    "fr": "identifiant client inconnu ou secret client erroné.",
}
NOT_JSON = {"de": "Der Inhalt ist kein JSON: ", "fr": "Le corps n'est pas du JSON : "}


@pytest.mark.django_db
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_webhook_answers_in_the_language_the_request_accepts(client, configure, language):
    with override_settings(MIDDLEWARE=LOCALE_MIDDLEWARE):
        answer = client.post(
            WEBHOOK,
            b"{}",
            content_type="application/json",
            HTTP_AUTHORIZATION=basic(secret="not-the-secret-at-all"),
            HTTP_ACCEPT_LANGUAGE=language,
        )
    assert answer.status_code == 401
    assert answer.json()["error"] == {
        "code": "invalid_credentials",
        "message": WRONG_CREDENTIALS[language],
    }


@pytest.mark.django_db
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_webhook_answers_in_language_code(client, group, settings, language, caplog):
    settings.LANGUAGE_CODE = language
    answer = client.post(
        WEBHOOK, b'{"audiences": [', content_type="application/json", HTTP_AUTHORIZATION=basic()
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_json"
    assert error["message"].startswith(NOT_JSON[language])
    assert "line 1 column 16" not in error["message"]


@pytest.mark.django_db
def test_a_refusal_is_logged_and_stored_in_english_whatever_the_answer_says(
    client, group, settings, caplog
):
    settings.LANGUAGE_CODE = "de"
    client.post(WEBHOOK, b"{}", content_type="text/plain", HTTP_AUTHORIZATION=basic())
    wrong = client.post(
        WEBHOOK, b"{}", content_type="application/json", HTTP_AUTHORIZATION=basic(secret="x" * 20)
    )
    assert wrong.json()["error"]["message"] == WRONG_CREDENTIALS["de"]
    assert "unknown client id or wrong client secret." in caplog.text
    assert WRONG_CREDENTIALS["de"] not in caplog.text
    stored = WebhookDelivery.objects.get()
    assert stored.error == "Send Content-Type: application/json, not 'text/plain'."


@pytest.mark.django_db
def test_a_malformed_delivery_is_answered_in_the_language_and_its_problems_stored_in_english(
    client, group, settings
):
    settings.LANGUAGE_CODE = "de"
    body = json.dumps({"audiences": [{"id": "a", "name": "A", "sync": "full", "added": ["1"]}]})
    answer = client.post(WEBHOOK, body, content_type="application/json", HTTP_AUTHORIZATION=basic())
    assert answer.status_code == 400
    answered = {d["path"]: d["message"] for d in answer.json()["error"]["details"]}
    stored = {d["path"]: d["message"] for d in WebhookDelivery.objects.get().result["details"]}
    assert answered.keys() == stored.keys() and len(stored) >= 2, stored
    required = stored["/segment_group_identifier"]
    assert required == "This field is required."
    assert answered["/segment_group_identifier"] != required  # DRF's own German
    assert all(answered[path] != stored[path] for path in stored), (answered, stored)


# -- commands -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "summary"),
    [
        # German counts 0 as plural, French as singular: each catalog has its own plural rule.
        ("de", "0 Zustellungen aus der Warteschlange verarbeitet: 0 angewendet, 0 fehlgeschlagen"),
        ("fr", "0 livraison en file d'attente traitée : 0 appliquée(s), 0 échouée(s)"),
    ],
)
def test_a_command_summary_counts_in_the_language(cdp_config, settings, language, summary):
    settings.LANGUAGE_CODE = language
    cdp_config({})
    out = io.StringIO()
    call_command("cdp_process_deliveries", stdout=out)
    assert out.getvalue().startswith(summary)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "error"),
    [
        ("de", "--batch-size muss mindestens 1 sein, nicht 0."),
        ("fr", "--batch-size doit valoir au moins 1, et non 0."),
    ],
)
def test_a_command_error_is_one_line_in_the_language(cdp_config, settings, language, error):
    settings.LANGUAGE_CODE = language
    cdp_config({})
    with pytest.raises(CommandError) as raised:
        call_command("stream_user_data", "--batch-size", "0", stdout=io.StringIO())
    assert str(raised.value) == error


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("de", "Streamt die Benutzer der Site an die CDP"),
        ("fr", "Envoie les utilisateurs du site à la CDP"),
    ],
)
def test_a_command_help_is_in_the_language(settings, language, words):
    settings.LANGUAGE_CODE = language
    parser = load_command_class("cdp_bridge", "stream_user_data").create_parser(
        "manage.py", "stream_user_data"
    )
    assert words in parser.format_help()


# -- the admin ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "label", "title"),
    [
        ("de", "Segmentgruppen", "Webhook-Zustellung zum Ansehen auswählen"),
        ("fr", "Groupes de segments", "Sélectionnez l\u2019objet livraison webhook à afficher"),
    ],
)
def test_the_admin_speaks_the_request_language(admin_client, language, label, title):
    with override_settings(MIDDLEWARE=[*LOCALE_MIDDLEWARE, *ADMIN_MIDDLEWARE]):
        index = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE=language)
        deliveries = admin_client.get(
            "/admin/cdp_bridge/webhookdelivery/", HTTP_ACCEPT_LANGUAGE=language
        )
    assert label in index.text
    assert f"<title>{title} |" in deliveries.text


# -- falling back to English ----------------------------------------------------------------


def test_a_language_without_a_catalog_gets_english_checks(cdp_config):
    cdp_config(BROKEN)
    with translation.override("it"):
        [unknown] = check_messages("cdp_bridge.E001")
    assert (unknown.msg, unknown.hint) == ("unknown key.", "Did you mean 'webhook'?")


@pytest.mark.django_db
def test_a_language_without_a_catalog_gets_english_answers(client, configure):
    with override_settings(MIDDLEWARE=LOCALE_MIDDLEWARE):
        answer = client.post(
            WEBHOOK,
            b"{}",
            content_type="application/json",
            HTTP_AUTHORIZATION=basic(secret="wrong"),
            HTTP_ACCEPT_LANGUAGE="it",
        )
    assert answer.json()["error"]["message"] == "unknown client id or wrong client secret."


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_message_missing_from_a_catalog_falls_back_to_english(language):
    with (LOCALE / language / "LC_MESSAGES" / "django.mo").open("rb") as file:
        catalog = gettext.GNUTranslations(file)
    assert catalog.gettext("unknown key.") != "unknown key."
    absent = "A message written after the catalog was compiled."
    assert catalog.gettext(absent) == absent
    assert catalog.ngettext("%(count)d new thing", "%(count)d new things", 2) == (
        "%(count)d new things"
    )


# -- the catalogs ---------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdifrgxXeEc]|\{\w+\}")


def po_entries(path):
    """The entries of a .po file: msgctxt, msgid, msgid_plural, msgstr forms, flags."""
    entries, entry, key = [], None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry and "msgid" in entry:
                entries.append(entry)
            entry, key = None, None
            continue
        entry = entry or {"flags": set(), "msgstr": {}}
        if line.startswith("#,"):
            entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry_target = entry["msgstr"] if isinstance(key, int) else entry
            entry_target[key] += ast.literal_eval(line)
        else:
            keyword, _, text = line.partition(" ")
            found = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
            key = int(found[1]) if found else (0 if keyword == "msgstr" else keyword)
            target = entry["msgstr"] if isinstance(key, int) else entry
            target[key] = ast.literal_eval(text)
    return [entry for entry in entries if entry["msgid"]]


def catalog_entries(language):
    return po_entries(LOCALE / language / "LC_MESSAGES" / "django.po")


def placeholders(text):
    return sorted(PLACEHOLDER.findall(text))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_entry_is_translated_and_keeps_its_placeholders(language):
    entries = catalog_entries(language)
    assert len(entries) > 400
    for entry in entries:
        msgid = entry["msgid"]
        assert "fuzzy" not in entry["flags"], msgid
        forms = entry["msgstr"]
        assert forms and all(forms.values()), f"not translated: {msgid!r}"
        for index, form in forms.items():
            source = entry["msgid_plural"] if index and "msgid_plural" in entry else msgid
            assert placeholders(form) == placeholders(source), (msgid, form)
            assert form.count("%%") == source.count("%%"), (msgid, form)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalog_holds_what_the_po_file_says(language):
    with (LOCALE / language / "LC_MESSAGES" / "django.mo").open("rb") as file:
        compiled = gettext.GNUTranslations(file)
    for entry in catalog_entries(language):
        context, msgid = entry.get("msgctxt"), entry["msgid"]
        if "msgid_plural" in entry:
            # n=1 is singular and n=5 plural in both languages' rules.
            one = (
                compiled.npgettext(context, msgid, entry["msgid_plural"], 1)
                if context
                else compiled.ngettext(msgid, entry["msgid_plural"], 1)
            )
            five = (
                compiled.npgettext(context, msgid, entry["msgid_plural"], 5)
                if context
                else compiled.ngettext(msgid, entry["msgid_plural"], 5)
            )
            assert (one, five) == (entry["msgstr"][0], entry["msgstr"][1]), msgid
        else:
            shown = compiled.pgettext(context, msgid) if context else compiled.gettext(msgid)
            assert shown == entry["msgstr"][0], msgid


def test_makemessages_finds_no_message_missing_from_the_catalogs(tmp_path, monkeypatch):
    """A message wrapped in gettext since the catalogs were made fails here until translated."""
    if shutil.which("xgettext") is None or shutil.which("msgmerge") is None:
        pytest.skip("makemessages needs GNU gettext (xgettext, msgmerge): install gettext")
    package = tmp_path / "cdp_bridge"
    shutil.copytree(
        Path(cdp_bridge.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__")
    )
    monkeypatch.chdir(package)
    call_command("makemessages", locale=["de"], no_obsolete=True, verbosity=0)
    shipped = {(e.get("msgctxt"), e["msgid"]) for e in catalog_entries("de")}
    found = po_entries(package / "locale" / "de" / "LC_MESSAGES" / "django.po")
    missing = [e["msgid"] for e in found if (e.get("msgctxt"), e["msgid"]) not in shipped]
    assert missing == [], "run makemessages and translate: " + "; ".join(missing)
