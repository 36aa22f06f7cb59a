"""Two per-turn costs inside Rasa 3.6 that this project removes (measured with py-spy, see bench/).

1. After every custom action, Rasa validates the action server's answer with `jsonschema.validate`,
   which first re-checks the (constant) schema itself: 14% of the server's CPU under load, for a
   schema that never changes. `cached_validate` checks each distinct schema once and reuses its
   validator; results and errors are the same as `jsonschema.validate`'s.
2. Loading a conversation from the tracker store turns every stored event back into an object;
   for each one `Event.resolve_by_type` walks all Event subclasses (8% of the CPU under load).
   `cached_resolve_by_type` remembers the class found for each event type name.
(SQLAlchemy 1.4 also gives SQLite files no connection pool; rasa_plugins/tracker_store.py fixes that.)

`install()` is idempotent; the Rasa server calls it through rasa_plugins.channels at start.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Dict, Tuple

import jsonschema
from jsonschema import exceptions
from jsonschema.validators import validator_for
from rasa.shared.core.events import Event

_original_validate = jsonschema.validate
_validators: Dict[Tuple[type, str], Any] = {}
_lock = threading.Lock()


def cached_validate(instance: Any, schema: Any, cls: Any = None, *args: Any, **kwargs: Any) -> None:
    if args or kwargs:
        return _original_validate(instance, schema, cls, *args, **kwargs)
    if cls is None:
        cls = validator_for(schema)
    key = (cls, json.dumps(schema, sort_keys=True, default=str))
    validator = _validators.get(key)
    if validator is None:
        cls.check_schema(schema)
        validator = cls(schema)
        with _lock:
            _validators[key] = validator
    error = exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


_original_resolve_by_type = Event.resolve_by_type
_event_classes: Dict[str, type] = {}


def cached_resolve_by_type(type_name: str, default: Any = None) -> Any:
    found = _event_classes.get(type_name)
    if found is None:
        found = _original_resolve_by_type(type_name, default)
        if found is not None and found is not default:
            _event_classes[type_name] = found  # only real matches; unknown names keep Rasa's answer
    return found


def install() -> None:
    jsonschema.validate = cached_validate
    Event.resolve_by_type = staticmethod(cached_resolve_by_type)
