"""Builds the escalation service from settings: the stores, the Rasa client, the rules (read once, from
the path in settings), the escalation blueprints, the trainers' blueprint and the analytics blueprint."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from sanic import Sanic

from analytics.broker_events import BrokerEvents
from analytics.refresh import EventSource, Refresher, TrackerEvents
from analytics.reports import Analytics
from analytics.store import AnalyticsStore
from analytics.web import analytics_blueprint, upkeep_step
from common.conversation_log import ConversationLog
from common.crm import CustomerRepository
from common.database import Database, migrate
from common.leases import JobLease
from common.rasa_api import RasaClient
from common.rasa_commands import process_env
from common.settings import Settings, load_settings
from escalation.queue.agents import AgentDirectory
from escalation.queue.handoffs import HandoffQueue
from escalation.rules_file import load_rules
from escalation.web.accounts import accounts_blueprint, trust_proxies
from escalation.web.agents_api import agents_blueprint
from escalation.web.app import Services, create_app
from escalation.web.site import site_blueprint
from escalation.web.workspace import record_sla_events
from training.dissatisfaction_labels import DissatisfactionLabeller
from training.jobs import ReleaseJobs
from training.labels import Labeller
from training.project import BotProject
from training.store import ReviewStore
from training.web import ERROR_STATUSES as TRAINING_ERRORS
from training.web import Training, trainers_blueprint

UPKEEP_LEASE_SECONDS = 15  # three upkeep rounds: a stopped holder is replaced within 15 s


def services_for(settings: Settings, database: Database) -> Services:
    return Services(
        settings=settings,
        rules=load_rules(Path(settings.escalation_rules_file)),
        queue=HandoffQueue(database),
        agents=AgentDirectory(database),
        customers=CustomerRepository(database),
        rasa=RasaClient(settings.rasa_url, settings.rasa_token),
        log=ConversationLog.for_tracker_store(settings.tracker_store_url),
        upkeep_lease=JobLease(database, "queue-upkeep", timedelta(seconds=UPKEEP_LEASE_SECONDS)),
    )


def training_for(settings: Settings, database: Database) -> Training:
    project, reviews = BotProject(Path(settings.bot_project_dir)), ReviewStore(database)
    feelings = ReviewStore.of_dissatisfaction(database)
    return Training(
        project,
        reviews,
        Labeller(project, reviews, settings.heldout_share),
        feelings,
        DissatisfactionLabeller(project, feelings, settings.heldout_share),
        ReleaseJobs(project.root / "var" / "releases", process_env(settings)),
    )


def analytics_for(services: Services) -> Analytics:
    """The analytics over the product's database (the fact table lives beside the queue) and the tracker
    store, refreshed on read and by the upkeep timer."""
    settings = services.settings
    database = Database.from_url(settings.customer_db_url)  # the queue's engine: one per URL
    store = AnalyticsStore(database)
    # The same events either way: read from Rasa's tracker store, or as the event broker delivered them.
    events: EventSource = (
        BrokerEvents(database)
        if settings.analytics_events_from == "event_broker"
        else TrackerEvents.for_tracker_store(settings.tracker_store_url)
    )
    refresher = Refresher(store, events, services.queue, services.rules, services.clock)
    rules_file = Path(settings.escalation_rules_file)
    return Analytics(store, refresher, services.rules, rules_file.read_text, services.clock)


def app_for(services: Services, training: Training) -> Sanic:
    """The web app: every audience's blueprint, the trainers' errors mapped with the escalation ones."""
    analytics = analytics_for(services)
    blueprints = [
        site_blueprint(),
        accounts_blueprint(),
        agents_blueprint(),
        trainers_blueprint(training),
        analytics_blueprint(analytics),
    ]
    app = create_app(
        services,
        blueprints,
        error_statuses=TRAINING_ERRORS,
        upkeep_steps=[("SLA clock events", record_sla_events), ("analytics refresh", upkeep_step(analytics))],
    )
    trust_proxies(app, services.settings.trusted_proxies)  # whose X-Forwarded-For sign-in's throttle believes
    return app


def build(settings: Settings) -> Sanic:
    migrate(settings.customer_db_url)
    database = Database.from_url(settings.customer_db_url)
    services = services_for(settings, database)  # refuses to start with invalid rules, saying what is wrong
    # DEMO_ACCOUNTS=true: the demo accounts exist (untouched by operators); false: they cannot sign in
    services.agents.sync_demo_accounts(settings.demo_accounts, settings.demo_agent_password)
    return app_for(services, training_for(settings, database))


def main() -> None:
    settings = load_settings()
    logging.basicConfig(level=settings.log_level)
    build(settings).run(host="127.0.0.1", port=settings.escalation_port, access_log=False)
