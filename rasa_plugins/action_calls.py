"""Custom actions that still run when the action server does not answer.

Rasa 3.6 calls the action server once; when that fails it logs the error, drops the action's events and
goes on, so a customer who asked for a person got no answer and no handoff (seen when the action
server was killed). Installed into the Rasa server by `install()`, every custom action call now:

1. is retried when the action server cannot be reached (connection refused or reset, or a 502/503/504
   from a proxy in front of it: the action did not run), after RETRY_DELAYS_SECONDS, and waits at most
   ACTION_CALL_TIMEOUT_SECONDS instead of Rasa's five minutes; a call that timed out is not retried or
   re-run (the action may have run), the customer gets the honest message of 3;
2. when the action server stays unreachable, runs in the Rasa server itself: the same action code
   (the `actions` package, through rasa_sdk's executor, with the same request Rasa would have sent),
   so the handoff is queued and the customer told so, as if nothing had happened (logged as an error
   for the operator);
3. when even that fails (the database is down too), ends with an honest message instead of silence.

An action the action server answered with an error of its own (a bug: 500, or a 400 rejection) is not
retried or re-run: it would fail the same way, and running side effects twice must not be the cure.
"""

from __future__ import annotations

import asyncio
import logging
from functools import lru_cache
from typing import Any, Dict, List, Optional

import aiohttp
import rasa.core.actions.action as rasa_actions
from rasa.shared.core import events as rasa_events
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import ClientResponseError as RasaClientResponseError

logger = logging.getLogger(__name__)
ACTIONS_PACKAGE = "actions"
RETRY_DELAYS_SECONDS = (0.25, 0.75, 1.5)
ACTION_CALL_TIMEOUT_SECONDS = 20
UNREACHABLE_STATUSES = {502, 503, 504}  # a proxy's answer when the action server behind it is down
# Not a domain response: Rasa's validator wants every response used in a story or rule, and this one is
# said only when the machinery behind the stories has failed.
CANNOT_HELP = (
    "I'm sorry, I can't reach our systems right now, so I couldn't do that. Please try again in a few "
    "minutes; if it's urgent, our team is on +31 20 555 0100 (Monday to Friday 8:00-20:00, Saturday "
    "9:00-17:00 CET) and at support@larkspur.example."
)


def action_server_unreachable(error: BaseException) -> bool:
    """Whether a failed call means the action server could not be reached (rather than a failing action)."""
    for cause in (error.__cause__, error.__context__):
        # Rasa raises its own ClientResponseError (rasa.utils.endpoints) for an HTTP error status.
        if isinstance(cause, (RasaClientResponseError, aiohttp.ClientResponseError)):
            return cause.status in UNREACHABLE_STATUSES
        if isinstance(cause, aiohttp.ClientConnectionError):
            return True
    return False


@lru_cache(maxsize=1)
def local_executor() -> Any:
    """rasa_sdk's executor with the project's actions, loaded on first need only."""
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package(ACTIONS_PACKAGE)
    return executor


async def run_in_rasa(action: "rasa_actions.RemoteAction", output_channel, nlg, tracker, domain) -> List[Any]:
    """The action run by this process, fed back exactly as an action server's answer would be."""
    response: Optional[Dict[str, Any]] = await local_executor().run(action._action_call_format(tracker, domain))
    response = response or {"events": [], "responses": []}
    bot_messages = await action._utter_responses(response.get("responses", []), output_channel, nlg, tracker)
    return list(bot_messages) + rasa_events.deserialise_events(response.get("events", []))


def resilient(call_action_server):
    async def run(self, output_channel, nlg, tracker, domain) -> List[Any]:
        for delay in (*RETRY_DELAYS_SECONDS, None):
            try:
                return await call_action_server(self, output_channel, nlg, tracker, domain)
            except asyncio.TimeoutError:
                # The action server may have done the work and only its answer is late: running the
                # action again could do it twice, so the customer is told instead.
                logger.error("The action server did not answer %s in time; telling the customer", self.name())
                return [rasa_actions.create_bot_utterance({"text": CANNOT_HELP})]
            except RasaException as error:
                if not action_server_unreachable(error):
                    raise
                if delay is None:
                    break
                logger.warning("Action server unreachable for %s; retrying in %.2f s", self.name(), delay)
                await asyncio.sleep(delay)
        logger.error(
            "The action server stayed unreachable; running %s in the Rasa server instead (%s)",
            self.name(),
            tracker.sender_id,
        )
        try:
            return await run_in_rasa(self, output_channel, nlg, tracker, domain)
        except Exception:
            logger.exception("Could not run %s in the Rasa server either; telling the customer", self.name())
            return [rasa_actions.create_bot_utterance({"text": CANNOT_HELP})]

    run.__wrapped__ = call_action_server
    return run


def install() -> None:
    """Patches Rasa's RemoteAction once per process (idempotent)."""
    remote = rasa_actions.RemoteAction
    if getattr(remote.run, "__wrapped__", None) is None:
        remote.run = resilient(remote.run)
    rasa_actions.DEFAULT_REQUEST_TIMEOUT = ACTION_CALL_TIMEOUT_SECONDS  # read by RemoteAction.run per call
