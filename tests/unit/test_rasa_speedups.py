"""The Rasa speed-ups must give exactly Rasa's own results."""

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered

from rasa_plugins import speedups as rasa_speedups

SCHEMA = RemoteAction.action_response_format_spec()


@pytest.mark.parametrize(
    "response, valid",
    [
        ({"events": [{"event": "slot", "name": "tier", "value": "vip"}], "responses": []}, True),
        ({"events": [], "responses": [{"text": "hi"}]}, True),
        ({"events": "not a list"}, False),
        ({"events": [{"no_event_key": 1}]}, False),
    ],
)
def test_cached_validate_agrees_with_jsonschema(response, valid):
    for _ in range(2):  # first call fills the cache, second uses it
        if valid:
            rasa_speedups.cached_validate(response, SCHEMA)
            rasa_speedups._original_validate(response, SCHEMA)
        else:
            with pytest.raises(jsonschema.ValidationError) as ours:
                rasa_speedups.cached_validate(response, SCHEMA)
            with pytest.raises(jsonschema.ValidationError) as theirs:
                rasa_speedups._original_validate(response, SCHEMA)
            assert ours.value.message == theirs.value.message


@pytest.mark.parametrize(
    "type_name, expected",
    [
        ("slot", SlotSet),
        ("user", UserUttered),
        ("action", ActionExecuted),
    ],
)
def test_cached_resolve_by_type(type_name, expected):
    assert rasa_speedups.cached_resolve_by_type(type_name) is expected
    assert rasa_speedups.cached_resolve_by_type(type_name) is expected


def test_unknown_event_names_behave_as_in_rasa():
    assert rasa_speedups.cached_resolve_by_type("topic") is None
    assert rasa_speedups.cached_resolve_by_type("nonsense", default=SlotSet) is SlotSet
    with pytest.raises(ValueError):
        rasa_speedups.cached_resolve_by_type("nonsense")


def test_install_routes_rasa_through_the_caches():
    rasa_speedups.install()
    assert Event.resolve_by_type("slot") is SlotSet
    assert jsonschema.validate is rasa_speedups.cached_validate
