"""Alembic's environment for the product's database (customers, handoffs, agents, reviews).

Run through common.database.migrate(url), which hands over an open connection; `alembic` on the
command line works too, with migrations/alembic.ini:
`.venv/bin/alembic -c migrations/alembic.ini -x url=sqlite:///var/customers.db upgrade head`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

# The tables, so that `alembic revision --autogenerate` compares against every one of them.
import common.crm  # noqa: F401
import escalation.queue.agents  # noqa: F401
import escalation.queue.handoffs  # noqa: F401
import training.store  # noqa: F401
from common.database import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    with create_engine(url).begin() as opened:
        context.configure(connection=opened, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
