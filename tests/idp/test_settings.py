"""Settings: parsed and checked at start-up, unsafe defaults announced."""

import logging

import pytest

from idp import create_app
from idp import settings as settings_module
from idp.settings import SETTINGS, SettingsError, describe, load_settings
from tests.support.settings import TEST_SETTINGS


def test_defaults_without_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert f"sqlite:///{tmp_path / 'instance' / 'keyholder.db'}" == settings.DATABASE_URL
    assert str(tmp_path / "instance" / "keys") == settings.KEYS_DIR
    assert settings.PORT == 8000 and settings.DEMO is False
    assert set(settings) == {s.name for s in SETTINGS}


def test_the_old_key_folder_is_still_used_when_it_holds_keys(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keys").mkdir()
    assert str(tmp_path / "instance" / "keys") == load_settings({}).KEYS_DIR  # empty: not used
    (tmp_path / "keys" / "a-kid.json").write_text("{}")
    assert str(tmp_path / "keys") == load_settings({}).KEYS_DIR
    assert str(tmp_path / "elsewhere") == \
        load_settings({"KEYHOLDER_KEYS_DIR": "elsewhere"}).KEYS_DIR


def test_environment_is_parsed_and_overrides_win():
    settings = load_settings({"KEYHOLDER_PORT": "9000", "KEYHOLDER_DEMO": "yes",
                              "KEYHOLDER_ISSUER": "https://id.example.com/"},
                             {"PORT": 9100})
    assert settings.PORT == 9100
    assert settings.DEMO is True
    assert settings.ISSUER == "https://id.example.com"
    assert "PORT" not in settings.from_default


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("KEYHOLDER_PORT", "eighty", "KEYHOLDER_PORT: invalid literal"),
    ("KEYHOLDER_PORT", "70000", "KEYHOLDER_PORT: expected a whole number from 1 to 65535"),
    ("KEYHOLDER_DEMO", "maybe", "KEYHOLDER_DEMO: expected one of"),
    ("KEYHOLDER_ISSUER", "http://id.example.com", "must use https unless it is on loopback"),
    ("KEYHOLDER_ISSUER", "https://id.example.com/?x=1", "no query and no fragment"),
    ("KEYHOLDER_ISSUER", "id.example.com", "expected an absolute http(s) URL"),
    ("KEYHOLDER_SECRET_KEY", "short", "KEYHOLDER_SECRET_KEY: expected at least 32"),
    ("KEYHOLDER_KEYS_PASSPHRASE", "short", "KEYHOLDER_KEYS_PASSPHRASE: expected at least 32"),
    ("KEYHOLDER_PASSWORD_MEMORY_COST", "4", "expected a whole number from 8"),
    ("KEYHOLDER_LOG_LEVEL", "LOUD", "expected DEBUG, INFO, WARNING or ERROR"),
    ("KEYHOLDER_DATABSE_URL", "sqlite://", "KEYHOLDER_DATABSE_URL: unknown setting"),
])
def test_wrong_values_stop_the_start_with_the_variable_named(variable, value, message):
    with pytest.raises(SettingsError, match=message.replace("?", r"\?").replace("(", r"\(")
                       .replace(")", r"\)")):
        load_settings({variable: value})


def test_every_problem_is_listed_at_once():
    with pytest.raises(SettingsError) as error:
        load_settings({"KEYHOLDER_PORT": "0", "KEYHOLDER_SECRET_KEY": "x", "KEYHOLDER_NOPE": "1"})
    assert len(str(error.value).splitlines()) == 3


def test_test_variables_are_not_settings():
    load_settings({"KEYHOLDER_TEST_POSTGRES_URL": "postgresql://x"})


def test_unsafe_defaults_warn_once_in_one_line(tmp_path, caplog):
    config = {"DATABASE_URL": f"sqlite:///{tmp_path}/k.db", "INSTANCE_PATH": str(tmp_path)}
    settings_module._warned.clear()
    with caplog.at_level(logging.WARNING, logger="keyholder.settings"):
        create_app(config)
        create_app(config)  # a second app in the same process: said already
    records = [r for r in caplog.records if r.name == "keyholder.settings"]
    assert len(records) == 1
    warned = records[0].getMessage()
    assert "\n" not in warned
    for variable in ("KEYHOLDER_SECRET_KEY", "KEYHOLDER_KEYS_PASSPHRASE", "KEYHOLDER_ISSUER"):
        assert variable in warned
    assert "NOT safe in production" in warned
    assert "KEYHOLDER_DATABASE_URL" not in warned  # safe default: no noise


def test_demo_mode_and_real_values_silence_the_warning(tmp_path, caplog):
    base = {"DATABASE_URL": f"sqlite:///{tmp_path}/k.db", "INSTANCE_PATH": str(tmp_path)}
    with caplog.at_level(logging.WARNING, logger="keyholder.settings"):
        create_app({**base, "DEMO": True})
        create_app({**base, **TEST_SETTINGS})
    assert caplog.text == ""


def test_create_app_refuses_bad_settings(tmp_path):
    with pytest.raises(SettingsError, match="KEYHOLDER_PORT"):
        create_app({"PORT": "x", "INSTANCE_PATH": str(tmp_path)})


def test_secret_values_are_not_in_the_docs_table_except_the_public_defaults():
    table = describe()
    for setting in SETTINGS:
        assert f"`{setting.variable}`" in table
    assert table.count("**no**") == sum(not s.safe_in_production for s in SETTINGS)


def test_docs_settings_md_is_up_to_date():
    from pathlib import Path

    docs = (Path(__file__).parents[2] / "docs" / "settings.md").read_text()
    assert describe() in docs, "run: keyholder settings, and paste into docs/settings.md"


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "smtp://user:pw@mail.example"])
def test_a_wrong_smtp_url_stops_the_start(tmp_path, url):
    with pytest.raises(SettingsError, match="KEYHOLDER_SMTP_URL"):
        create_app({"SMTP_URL": url, "INSTANCE_PATH": str(tmp_path), "DEMO": True,
                    "DATABASE_URL": f"sqlite:///{tmp_path}/k.db"})
