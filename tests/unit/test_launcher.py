"""The `rasa run` command line the launcher builds, read back by Rasa's own argument parser."""

from pathlib import Path

import pytest
from rasa.__main__ import create_argument_parser

from common.settings import throwaway_settings
from tools.launcher import rasa_run_command


@pytest.mark.parametrize("token", ["-starts-with-a-dash", "plain_token-123", "--double"])
def test_every_generated_token_reaches_rasa_as_the_auth_token(tmp_path: Path, token: str):
    # secrets.token_urlsafe() starts with "-" once in 64 tokens; Rasa then refused to start.
    settings = throwaway_settings(tmp_path, RASA_TOKEN=token)
    command = rasa_run_command(settings, tmp_path / "model.tar.gz")
    args = create_argument_parser().parse_args(command[1:])
    assert args.auth_token == token
    assert args.port == settings.rasa_port and args.enable_api and args.cors == ["*"]
    assert args.endpoints.endswith("bot/endpoints.yml") and args.credentials.endswith("bot/credentials.yml")


def test_the_cors_origins_reach_rasa(tmp_path: Path):
    settings = throwaway_settings(tmp_path, RASA_CORS_ORIGINS="https://www.example.com  https://shop.example.com")
    args = create_argument_parser().parse_args(rasa_run_command(settings, tmp_path / "model.tar.gz")[1:])
    assert args.cors == ["https://www.example.com", "https://shop.example.com"]


def test_a_restarted_rasa_server_serves_the_model_released_since_the_start(tmp_path: Path):
    import json
    import os
    import time

    from tools.launcher import model_to_serve

    settings = throwaway_settings(tmp_path, BOT_PROJECT_DIR=tmp_path)
    (tmp_path / "models").mkdir()
    trained, released = tmp_path / "models" / "trained.tar.gz", tmp_path / "models" / "released.tar.gz"
    trained.write_bytes(b"model")
    released.write_bytes(b"model")
    state = tmp_path / "models" / "releases.json"
    state.write_text(json.dumps({"live": str(released), "previous": str(trained), "history": []}))
    os.utime(state, (time.time() - 3600,) * 2)  # released an hour before this start
    started_at = time.time()
    assert model_to_serve(settings, trained, started_at) == trained  # the model the system started with
    state.write_text(json.dumps({"live": str(released), "previous": str(trained), "history": []}))  # a release now
    assert model_to_serve(settings, trained, started_at) == released
    released.unlink()  # a live model whose file is gone is not served
    assert model_to_serve(settings, trained, started_at) == trained


def test_a_numbered_rasa_server_has_its_own_name_and_log(tmp_path: Path):
    from tools.launcher import numbered

    assert numbered("Rasa server", None) == "Rasa server" and numbered("Rasa server", 2) == "Rasa server 2"
