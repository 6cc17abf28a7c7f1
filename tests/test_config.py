"""Configuration comes from the environment, strictly, in one module."""

from __future__ import annotations


import pytest

from app.config import ConfigError, from_environ, parse_bool


@pytest.mark.parametrize("raw", ["maybe", "2", "enabled?"])
def test_an_unknown_boolean_is_refused_not_guessed(raw):
    with pytest.raises(ConfigError, match="not a boolean"):
        parse_bool("SOME_FLAG", raw, False)


def test_defaults_serve_sqlite_in_data_dir_on_localhost(tmp_path):
    config = from_environ({"DATA_DIR": str(tmp_path)})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'timetracker.db'}"
    assert (config["HOST"], config["PORT"]) == ("127.0.0.1", 8000)


def test_plain_postgres_urls_get_the_psycopg3_driver():
    config = from_environ({"DATABASE_URL": "postgres://u:p@db:5432/tt"})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db:5432/tt"


@pytest.mark.parametrize("name, raw", [("PORT", "eighty"), ("PORT", "-1"), ("WEB_CONCURRENCY", "-1")])
def test_bad_numbers_fail_at_start(name, raw):
    with pytest.raises(ConfigError):
        from_environ({name: raw})


def test_port_zero_means_a_free_port_the_system_picks():
    assert from_environ({"PORT": "0"})["PORT"] == 0


def test_an_empty_secret_key_counts_as_unset():
    """docker-compose passes SECRET_KEY="" when .env leaves it out: that must mean "use the
    install's key from the database", never an empty signing key."""
    assert from_environ({"SECRET_KEY": ""})["SECRET_KEY"] is None
    assert from_environ({"SECRET_KEY": "s3cret"})["SECRET_KEY"] == "s3cret"
