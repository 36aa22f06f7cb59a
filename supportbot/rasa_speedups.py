"""Two per-turn costs inside Rasa 3.6 that this project removes (measured with py-spy, see bench/).

1. After every custom action, Rasa validates the action server's answer with `jsonschema.validate`,
   which first re-checks the (constant) schema itself: 14% of the server's CPU under load, for a
   schema that never changes. `cached_validate` checks each distinct schema once and reuses its
   validator; results and errors are the same as `jsonschema.validate`'s.
2. SQLAlchemy 1.4 gives SQLite file databases no connection pool (NullPool), so Rasa's SQL tracker
   store opened and closed a connection several times per turn (see supportbot/tracker_store.py).

`install()` is idempotent; the Rasa server calls it through supportbot.channels at start.
"""
from __future__ import annotations

import json
import threading
from typing import Any, Dict, Tuple

import jsonschema
from jsonschema import exceptions
from jsonschema.validators import validator_for

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


def install() -> None:
    jsonschema.validate = cached_validate
