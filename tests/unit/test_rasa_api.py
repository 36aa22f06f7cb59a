"""The service's Rasa client never shows Rasa's token: requests names the whole URL, `?token=` included,
in its errors, and these reach agents' screens and the logs."""

import pytest

from common.rasa_api import RasaClient, RasaUnavailable
from common.settings import free_port


@pytest.mark.parametrize("call", ["loaded_model", "tracker", "say_as_agent"])
def test_an_unreachable_rasa_is_reported_without_the_token(call):
    client = RasaClient(f"http://127.0.0.1:{free_port()}", "SECRET-RASA-TOKEN", timeout=2)
    arguments = {"loaded_model": (), "tracker": ("c-1",), "say_as_agent": ("c-1", "hello", "alice", "Alice")}[call]
    with pytest.raises(RasaUnavailable) as raised:
        getattr(client, call)(*arguments)
    assert "SECRET-RASA-TOKEN" not in str(raised.value) and "<RASA_TOKEN>" in str(raised.value)
