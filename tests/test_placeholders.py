"""%env()% placeholders: every form Ibexa files use is read strictly, anything else is refused."""

import pytest

from cdp_bridge.conf.placeholders import PlaceholderError, resolve


def refused(value):
    with pytest.raises(PlaceholderError) as raised:
        resolve(value)
    return raised.value


def test_a_value_without_placeholders_is_left_as_it_is():
    assert resolve("https://in.example/100%") == "https://in.example/100%"


def test_a_plain_placeholder_is_the_variables_text(monkeypatch):
    monkeypatch.setenv("CDP_ACCOUNT", "0042")
    assert resolve("%env(CDP_ACCOUNT)%") == "0042"
    assert resolve("%env(string:CDP_ACCOUNT)%") == "0042"


@pytest.mark.parametrize(("text", "number"), [("4321", 4321), (" 7 ", 7), ("-3", -3)])
def test_int_reads_a_whole_number(monkeypatch, text, number):
    monkeypatch.setenv("CDP_BATCH", text)
    assert resolve("%env(int:CDP_BATCH)%") == number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        *[("true", True), ("TRUE", True), ("1", True), ("yes", True), ("on", True)],
        *[("false", False), ("0", False), ("No", False), ("off", False)],
    ],
)
def test_bool_reads_the_usual_spellings(monkeypatch, text, value):
    monkeypatch.setenv("CDP_SIGNED", text)
    assert resolve("%env(bool:CDP_SIGNED)%") is value


@pytest.mark.parametrize(
    ("placeholder", "text"),
    [
        ("%env(bool:CDP_VALUE)%", "ture"),
        ("%env(bool:CDP_VALUE)%", ""),
        ("%env(int:CDP_VALUE)%", "4k"),
    ],
)
def test_a_value_that_does_not_fit_its_processor_is_refused_without_showing_it(
    monkeypatch, placeholder, text
):
    monkeypatch.setenv("CDP_VALUE", text)
    error = refused(placeholder)
    assert error.check_id == "cdp_bridge.E031"
    assert "CDP_VALUE" in str(error)
    assert f"{text!r}" not in str(error)  # the variable may hold a secret


@pytest.mark.parametrize("processor", ["rot13", "str", "base64", "json"])
def test_any_other_processor_is_refused_by_name(monkeypatch, processor):
    monkeypatch.setenv("CDP_SECRET", "x")
    error = refused(f"%env({processor}:CDP_SECRET)%")
    assert error.check_id == "cdp_bridge.E030"
    assert repr(processor) in str(error)
    assert "CDP_SECRET" in str(error)


@pytest.mark.parametrize(
    "value",
    [
        "%env(CDP_SECRET",
        "%env(CDP_SECRET)",
        "prefix-%env(CDP_SECRET)%-%env(CDP_OTHER",
        "%env()%",
        "%env(int:)%",
        "%env(CDP-SECRET)%",
        "%env(int:bool:CDP_SECRET)%",
        "%env(default:CDP_SECRET)%",
    ],
)
def test_what_looks_like_a_placeholder_but_is_not_one_is_refused(monkeypatch, value):
    monkeypatch.setenv("CDP_SECRET", "s3cret")
    monkeypatch.setenv("CDP_OTHER", "x")
    assert refused(value).check_id == "cdp_bridge.E032"


def test_a_variable_that_is_not_set_is_named(monkeypatch):
    monkeypatch.delenv("CDP_MISSING", raising=False)
    error = refused("%env(int:CDP_MISSING)%")
    assert error.check_id == "cdp_bridge.E012"
    assert "CDP_MISSING is not set" in str(error)


def test_default_falls_back_to_a_django_setting(monkeypatch, settings):
    settings.CDP_DEFAULT_ACCOUNT = 1234
    monkeypatch.delenv("CDP_ACCOUNT", raising=False)
    assert resolve("%env(int:default:CDP_DEFAULT_ACCOUNT:CDP_ACCOUNT)%") == 1234
    monkeypatch.setenv("CDP_ACCOUNT", "")  # empty counts as not set, as in Symfony
    assert resolve("%env(int:default:CDP_DEFAULT_ACCOUNT:CDP_ACCOUNT)%") == 1234
    monkeypatch.setenv("CDP_ACCOUNT", "99")
    assert resolve("%env(int:default:CDP_DEFAULT_ACCOUNT:CDP_ACCOUNT)%") == 99


def test_the_processor_applies_to_the_fallback_too(monkeypatch, settings):
    settings.CDP_DEFAULT_ACCOUNT = "not a number"
    monkeypatch.delenv("CDP_ACCOUNT", raising=False)
    assert refused("%env(int:default:CDP_DEFAULT_ACCOUNT:CDP_ACCOUNT)%").check_id == (
        "cdp_bridge.E031"
    )


def test_default_without_a_setting_falls_back_to_null(monkeypatch):
    monkeypatch.delenv("CDP_API_KEY", raising=False)
    assert resolve("%env(default::CDP_API_KEY)%") is None


@pytest.mark.parametrize(
    ("placeholder", "hint"),
    [
        ("%env(default:CDP_NO_SUCH_SETTING:CDP_ACCOUNT)%", "Define CDP_NO_SUCH_SETTING"),
        ("%env(default:fallback:CDP_ACCOUNT)%", "%env(default:FALLBACK:CDP_ACCOUNT)%"),
    ],
)
def test_a_fallback_setting_that_does_not_exist_is_refused_even_when_the_variable_is_set(
    monkeypatch, placeholder, hint
):
    monkeypatch.setenv("CDP_ACCOUNT", "99")
    error = refused(placeholder)
    assert error.check_id == "cdp_bridge.E033"
    assert "CDP_ACCOUNT" in str(error)
    assert hint in error.hint


def test_placeholders_inside_a_longer_string_are_replaced_by_their_text(monkeypatch):
    monkeypatch.setenv("CDP_HOST", "in.example")
    monkeypatch.setenv("CDP_PORT", "8443")
    monkeypatch.setenv("CDP_TLS", "yes")
    assert resolve("https://%env(CDP_HOST)%:%env(int:CDP_PORT)%/") == "https://in.example:8443/"
    assert resolve("tls=%env(bool:CDP_TLS)%") == "tls=true"


@pytest.mark.parametrize(
    ("text", "number"), [("2.5", 2.5), (" 30 ", 30.0), ("-1", -1.0), ("1e3", 1000.0)]
)
def test_float_reads_a_number(monkeypatch, text, number):
    monkeypatch.setenv("CDP_TIMEOUT", text)
    assert resolve("%env(float:CDP_TIMEOUT)%") == number


@pytest.mark.parametrize("text", ["nan", "inf", "-Infinity", "1e999", "2,5", ""])
def test_float_refuses_what_is_not_a_finite_number(monkeypatch, text):
    monkeypatch.setenv("CDP_TIMEOUT", text)
    assert refused("%env(float:CDP_TIMEOUT)%").check_id == "cdp_bridge.E031"


@pytest.mark.parametrize("text", ["nan", "inf", "1e3", "2.0"])
def test_int_refuses_what_is_not_a_whole_number(monkeypatch, text):
    monkeypatch.setenv("CDP_BATCH", text)
    assert refused("%env(int:CDP_BATCH)%").check_id == "cdp_bridge.E031"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("100%%", "100%"),
        ("%%env(CDP_SECRET)%%", "%env(CDP_SECRET)%"),
        ("a%%b%%c", "a%b%c"),
        ("%%%env(CDP_SECRET)%", "%s3cret"),
        ("50% off", "50% off"),
    ],
)
def test_a_doubled_percent_sign_is_one_percent_sign_as_in_symfony(monkeypatch, value, text):
    monkeypatch.setenv("CDP_SECRET", "s3cret")
    assert resolve(value) == text


def test_a_percent_sign_in_the_environment_is_kept_as_it_is(monkeypatch):
    monkeypatch.setenv("CDP_SECRET", "a%%b%c%")
    assert resolve("%env(CDP_SECRET)%") == "a%%b%c%"


@pytest.mark.parametrize(
    ("value", "parameter", "suggested"),
    [
        ("%app.cdp.secret%", "app.cdp.secret", "%env(APP_CDP_SECRET)%"),
        ("https://%cdp_host%/in", "cdp_host", "%env(CDP_HOST)%"),
        ("%kernel.project_dir%/var/cdp", "kernel.project_dir", "BASE_DIR"),
    ],
)
def test_a_symfony_parameter_reference_is_refused_naming_the_parameter(value, parameter, suggested):
    error = refused(value)
    assert error.check_id == "cdp_bridge.E039"
    assert repr(parameter) in str(error)
    assert suggested in error.hint
    assert "%%" in error.hint


def test_the_project_directory_parameter_is_the_base_dir_setting(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    assert resolve("%kernel.project_dir%/var/cdp") == f"{tmp_path}/var/cdp"
