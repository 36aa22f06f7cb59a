from pathlib import Path

import pytest

from common.settings import MissingSetting, load_settings
from tools.envfile import render_env


def test_missing_secret_names_the_setting(tmp_path: Path):
    with pytest.raises(MissingSetting, match="CUSTOMER_TOKEN_SECRET.*make env"):
        load_settings(env={"RASA_TOKEN": "x"}, env_file=tmp_path / "none.env")


def test_environment_wins_over_env_file_which_wins_over_defaults(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "CUSTOMER_TOKEN_SECRET=from-file\nRASA_TOKEN=file-token\nAGENT_TOKEN_SECRET=a\nDEMO_AGENT_PASSWORD=p\nRASA_PORT=6000\n"
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
                "RASA_PORT": "abc",
            },
            env_file=tmp_path / "none.env",
        )


def test_rendered_env_has_fresh_distinct_secrets():
    example = Path(__file__).resolve().parents[2].joinpath(".env.example").read_text()
    first, second = render_env(example), render_env(example)
    values = dict(line.split("=", 1) for line in first.splitlines() if "=" in line and not line.startswith("#"))
    assert len(values["CUSTOMER_TOKEN_SECRET"]) >= 40 and len(values["RASA_TOKEN"]) >= 40
    assert first != second
    assert "SEED_CUSTOMER_COUNT=240" in first  # non-secret settings are copied unchanged


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
    assert ensure_env_file(target, example) == "created"
    assert ensure_env_file(target, example) == ""
    target.write_text("RASA_TOKEN=keep-me\nCUSTOMER_TOKEN_SECRET=\n")  # an older .env
    assert ensure_env_file(target, example) == "added CUSTOMER_TOKEN_SECRET, AGENT_TOKEN_SECRET, DEMO_AGENT_PASSWORD"
    settings = load_settings(env={}, env_file=target)
    assert settings.rasa_token == "keep-me" and len(settings.agent_token_secret) >= 40


def test_settings_survive_the_trip_to_a_child_process_environment(tmp_path: Path):
    from common.settings import KEYS, as_environment, throwaway_settings

    settings = throwaway_settings(tmp_path, DEMO_PAGE_ENABLED="false", HELDOUT_SHARE="0.3")
    environment = as_environment(settings)
    assert set(environment) == KEYS  # every setting, each declared once
    assert load_settings(env=environment, env_file=tmp_path / "none.env") == settings
