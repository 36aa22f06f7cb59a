from pathlib import Path

import pytest
from dotenv import dotenv_values

from common.settings import SECRETS, MissingSetting, load_settings
from tools.envfile import ensure_env_file


def test_missing_secret_names_the_setting(tmp_path: Path):
    with pytest.raises(MissingSetting, match="CUSTOMER_TOKEN_SECRET.*make env"):
        load_settings(env={"RASA_TOKEN": "x"}, env_file=tmp_path / "none.env")


def test_environment_wins_over_env_file_which_wins_over_defaults(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "CUSTOMER_TOKEN_SECRET=from-file\nRASA_TOKEN=file-token\nAGENT_TOKEN_SECRET=a\nDEMO_AGENT_PASSWORD=p\nRASA_PORT=6000\n"
        "ACTION_SERVER_TOKEN=x\n"
        "MAX_MESSAGE_CHARS=\n"
    )
    settings = load_settings(env={"RASA_PORT": "7000"}, env_file=env_file)
    assert settings.rasa_port == 7000
    assert settings.customer_token_secret == "from-file"
    assert settings.max_message_chars == 2000  # empty value in .env keeps the default


def test_bad_number_is_reported_by_name(tmp_path: Path):
    with pytest.raises(ValueError, match="RASA_PORT"):
        load_settings(
            env={
                "CUSTOMER_TOKEN_SECRET": "s",
                "RASA_TOKEN": "t",
                "AGENT_TOKEN_SECRET": "a",
                "DEMO_AGENT_PASSWORD": "p",
                "ACTION_SERVER_TOKEN": "x",
                "RASA_PORT": "abc",
            },
            env_file=tmp_path / "none.env",
        )


def test_a_new_env_has_fresh_distinct_secrets_and_the_examples_settings(tmp_path: Path):
    example = Path(__file__).resolve().parents[2] / ".env.example"
    first, second = tmp_path / "first.env", tmp_path / "second.env"
    assert ensure_env_file(first, example, environ={}) == "created"
    assert ensure_env_file(second, example, environ={}) == "created"
    values, other = dotenv_values(first), dotenv_values(second)
    assert len(values["CUSTOMER_TOKEN_SECRET"]) >= 40 and len(values["RASA_TOKEN"]) >= 40
    assert all(values[key] != other[key] for key in SECRETS)
    assert values["SEED_CUSTOMER_COUNT"] == "240"  # non-secret settings are copied unchanged
    assert "# " in first.read_text()  # the example's comments stay


def test_an_empty_quoted_secret_is_filled_so_the_advice_does_not_loop(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        'CUSTOMER_TOKEN_SECRET=a\nRASA_TOKEN=""\nAGENT_TOKEN_SECRET=b\nDEMO_AGENT_PASSWORD=p\nACTION_SERVER_TOKEN=x\n'
    )
    with pytest.raises(MissingSetting, match="RASA_TOKEN.*make env"):
        load_settings(env={}, env_file=env_file)
    assert ensure_env_file(env_file, environ={}) == "added RASA_TOKEN"  # what make env does
    settings = load_settings(env={}, env_file=env_file)
    assert len(settings.rasa_token) >= 40
    assert env_file.read_text().count("RASA_TOKEN=") == 1  # filled in place, not appended twice


def test_a_secret_from_the_environment_is_not_written_to_env(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text("CUSTOMER_TOKEN_SECRET=a\nAGENT_TOKEN_SECRET=b\nDEMO_AGENT_PASSWORD=p\nACTION_SERVER_TOKEN=x\n")
    environ = {"RASA_TOKEN": "exported-by-the-user"}
    assert ensure_env_file(env_file, environ=environ) == ""
    assert "RASA_TOKEN" not in dotenv_values(env_file)
    assert load_settings(env=environ, env_file=env_file).rasa_token == "exported-by-the-user"


def test_every_setting_is_documented_in_env_example():
    from common.settings import DEFAULTS, SECRETS

    example = Path(__file__).resolve().parents[2].joinpath(".env.example").read_text()
    documented = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line and not line.startswith("#")}
    assert set(DEFAULTS) | set(SECRETS) <= documented


def test_throwaway_settings_are_isolated(tmp_path: Path):
    from common.settings import throwaway_settings

    first, second = throwaway_settings(tmp_path / "a"), throwaway_settings(tmp_path / "b")
    assert first.customer_token_secret != second.customer_token_secret
    assert first.rasa_port != first.action_server_port
    assert str(tmp_path / "a") in first.customer_db_url


def test_env_file_is_created_then_completed_with_new_secrets(tmp_path: Path):
    from tools.envfile import ensure_env_file

    example = Path(__file__).resolve().parents[2] / ".env.example"
    target = tmp_path / ".env"
    assert ensure_env_file(target, example, environ={}) == "created"
    assert ensure_env_file(target, example, environ={}) == ""
    target.write_text("RASA_TOKEN=keep-me\nCUSTOMER_TOKEN_SECRET=\n")  # an older .env
    assert (
        ensure_env_file(target, example, environ={})
        == "added ACTION_SERVER_TOKEN, CUSTOMER_TOKEN_SECRET, AGENT_TOKEN_SECRET, DEMO_AGENT_PASSWORD"
    )
    settings = load_settings(env={}, env_file=target)
    assert settings.rasa_token == "keep-me" and len(settings.agent_token_secret) >= 40


def test_settings_survive_the_trip_to_a_child_process_environment(tmp_path: Path):
    from common.settings import KEYS, as_environment, throwaway_settings

    settings = throwaway_settings(tmp_path, DEMO_PAGE_ENABLED="false", HELDOUT_SHARE="0.3")
    environment = as_environment(settings)
    assert set(environment) == KEYS  # every setting, each declared once
    assert load_settings(env=environment, env_file=tmp_path / "none.env") == settings


def test_the_tracker_store_is_the_sqlite_file_unless_a_url_is_given(tmp_path: Path):
    from common.settings import throwaway_settings

    settings = throwaway_settings(tmp_path)
    assert settings.tracker_store_url == f"sqlite:///{tmp_path / 'tracker.db'}"
    url = "postgresql://postgres@db.internal:5432/larkspur"
    assert throwaway_settings(tmp_path, TRACKER_DB_URL=url).tracker_store_url == url


def test_a_release_reaches_the_one_rasa_server_unless_replicas_are_listed(tmp_path: Path):
    from common.settings import throwaway_settings

    settings = throwaway_settings(tmp_path)
    assert settings.rasa_replica_urls == [settings.rasa_url]
    listed = throwaway_settings(tmp_path, RASA_REPLICA_URLS=" http://10.0.0.5:5005  http://10.0.0.6:5005 ")
    assert listed.rasa_replica_urls == ["http://10.0.0.5:5005", "http://10.0.0.6:5005"]
