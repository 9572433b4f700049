"""Settings from the environment: defaults, parsing, and clear refusals."""

from __future__ import annotations

import pytest

from service.settings import Settings, SettingsError


def test_defaults_need_no_environment():
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///data/app.db"
    assert settings.ratelimit_storage_uri == "memory://"
    assert settings.cors_origins == ()
    assert settings.validate_responses is True


def test_production_turns_response_validation_off_unless_asked():
    assert Settings.from_env({"APP_ENV": "production"}).validate_responses is False
    forced = Settings.from_env({"APP_ENV": "production", "VALIDATE_RESPONSES": "on"})
    assert forced.validate_responses is True


def test_values_are_parsed():
    settings = Settings.from_env(
        {
            "CORS_ORIGINS": "https://a.example, http://127.0.0.1:3000/",
            "TRUSTED_PROXY_HOPS": "2",
            "MAX_BODY_BYTES": "1024",
        }
    )
    assert settings.cors_origins == ("https://a.example", "http://127.0.0.1:3000")
    assert (settings.trusted_proxy_hops, settings.max_body_bytes) == (2, 1024)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"WSGI_THREADS": "eight"}, "WSGI_THREADS"),
        ({"MAX_BODY_BYTES": "0"}, "MAX_BODY_BYTES"),
        ({"TRUSTED_PROXY_HOPS": "-1"}, "TRUSTED_PROXY_HOPS"),
        ({"VALIDATE_RESPONSES": "maybe"}, "VALIDATE_RESPONSES"),
        ({"CORS_ORIGINS": "*"}, "CORS_ORIGINS"),
        ({"APP_ENV": "staging"}, "APP_ENV"),
    ],
)
def test_bad_values_are_refused_by_name(environ, named):
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(environ)


@pytest.mark.parametrize("uri", ["async+redis://127.0.0.1:6379", "redis"])
def test_unusable_rate_limit_storages_are_refused(uri):
    with pytest.raises(SettingsError, match="RATELIMIT_STORAGE_URI"):
        Settings.from_env({"RATELIMIT_STORAGE_URI": uri})


SECRET = "0123456789abcdefghijklmnopqrstuv-long-enough"


def test_app_secret_is_the_key_material_and_is_never_shown():
    settings = Settings.from_env({"APP_SECRET": SECRET})
    assert settings.configured_secret == SECRET.encode()
    assert SECRET not in repr(settings)
    assert Settings.from_env({}).configured_secret is None  # the database's secret


def test_cursor_secret_is_read_as_the_former_name_of_app_secret():
    assert Settings.from_env({"CURSOR_SECRET": SECRET}).configured_secret == SECRET.encode()
    both = {"CURSOR_SECRET": SECRET, "APP_SECRET": SECRET}
    assert Settings.from_env(both).configured_secret == SECRET.encode()
    with pytest.raises(SettingsError, match="set APP_SECRET only"):
        Settings.from_env({"CURSOR_SECRET": SECRET, "APP_SECRET": SECRET + "x"})


@pytest.mark.parametrize("name", ["APP_SECRET", "CURSOR_SECRET"])
def test_a_short_secret_is_refused_by_name_without_showing_it(name):
    short = "guessable-secret"
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({name: short})
    assert str(refused.value).startswith(f"{name} must be at least 32 characters")
    assert short not in str(refused.value)
