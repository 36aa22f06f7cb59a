# The two commands: `make demo` (start everything) and `make test` (run every test).
# Every target sets up what it needs first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export RASA_TELEMETRY_ENABLED := false

.PHONY: score-messages dissatisfaction-model demo demo-scaled demo-history demo-history-remove proxy test test-fast check shell rasa setup setup-dev env browser inbox release rollback seed train migrate token agent-token agent-add agent-list agent-set agent-password agent-deactivate agent-activate bench lock validate clean

demo: setup env seed
	@$(PY) -m tools.launcher

# The same product as a deployment runs it (docs/scaling.md): PostgreSQL, Redis, RabbitMQ (started
# beforehand; the command says what is missing), RASA_REPLICAS Rasa replicas, ACTION_SERVERS action
# servers and SERVICE_PROCESSES service processes behind nginx on the same two addresses as `make demo`.
demo-scaled: setup env proxy
	@$(PY) -m tools.scaled

# A week of demo history for /analytics, played through the running system (`make demo` in another
# terminal; `make demo` plays it by itself the first time). Marked as seeded; the second target deletes it.
demo-history: setup env
	@$(PY) -m analytics.seed --days 7

demo-history-remove: setup env
	@$(PY) -m analytics.seed --remove

# Debian's nginx for make demo-scaled (installed when missing and possible).
proxy:
	@./scripts/proxy.sh

test: setup-dev env browser check
	@./scripts/proxy.sh || echo "==> Without nginx the scaled tests (tests/integration/test_scaled_*.py) are skipped"
	@$(PY) -m pytest -n 2 --dist loadgroup

# The fast layer only (pure logic, the web app in-process, actions with rasa_sdk trackers): no servers.
test-fast: setup-dev
	@$(PY) -m pytest -m "not integration"

# Lint, format and types (ruff, mypy on the decision core); part of make test.
check: setup-dev
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy

# The runtime dependencies, and the project installed into .venv (make demo).
setup:
	@./scripts/setup.sh

# ... and what the tests and the contributor tooling need (make test, make check).
setup-dev:
	@./scripts/setup.sh --dev

# Debian's Chromium for the browser tests (installed when missing and possible).
browser:
	@./scripts/browser.sh

env: setup
	@$(PY) -m tools.envfile

seed: setup env
	@$(PY) -m tools.seed

train: setup
	@$(PY) -c 'from common.rasa_commands import train; print(train())'

# Brings the database schema up to date (Alembic migrations in migrations/); make demo does it too.
migrate: setup env
	@$(PY) -c 'from common.database import migrate; from common.settings import load_settings; migrate(load_settings().customer_db_url)'

validate: setup
	@$(VENV)/bin/rasa data validate

# Talk to the bot in the terminal (Rasa's shell with this project's settings; starts the action server).
shell: setup env seed
	@$(PY) -m tools.rasa_cli shell $(ARGS)

# Any Rasa command with this project's settings, domain, endpoints and credentials: make rasa ARGS="run"
rasa: setup env
	@$(PY) -m tools.rasa_cli $(ARGS)

# Prints only the token, so it can be used as $$(make -s token CUSTOMER=demo-vip).
token: setup env
	@$(PY) -m tools.tokens customer "$(CUSTOMER)"

# One message per line on stdin; one JSON object per line: {"text", "score", "dissatisfied"}.
score-messages: setup
	@$(PY) -m tools.score_messages $(if $(MODEL),--model $(MODEL))

# Retrains the dissatisfaction detector from training/data (writes escalation/dissatisfaction_model.json).
dissatisfaction-model: setup
	@$(PY) -m training.dissatisfaction

bench: setup env
	@$(PY) -m bench.run_all

# Resolves the locks from requirements.in and requirements-dev.in for every platform (markers), with hashes.
lock: setup-dev
	@$(VENV)/bin/uv pip compile --quiet --universal --generate-hashes --python-version 3.10 \
		--excludes requirements-excludes.txt --custom-compile-command "make lock" requirements.in -o requirements.lock
	@$(VENV)/bin/uv pip compile --quiet --universal --generate-hashes --python-version 3.10 \
		--excludes requirements-excludes.txt --custom-compile-command "make lock" -c requirements.lock \
		requirements-dev.in -o requirements-dev.lock
	@echo "==> requirements.lock and requirements-dev.lock resolved; make setup-dev installs them"

clean:
	rm -rf var models/*.tar.gz .pytest_cache

# Prints only the token of an active account (agent or trainer) for the escalation service's API.
agent-token: setup env
	@$(PY) -m tools.tokens agent "$(AGENT)"

# Accounts of agents and trainers (docs/security.md). A password is asked for, or read from stdin when piped.
# make agent-add NAME=carol ROLE=agent QUEUES=general,sales CAPACITY=3 DISPLAY="Carol Diaz"
# (DISPLAY is taken only from the command line: the environment's DISPLAY is X11's.)
agent-add: setup env
	@$(PY) -m tools.accounts add "$(NAME)" --role "$(or $(ROLE),agent)" --queues "$(QUEUES)" \
		--display-name "$(if $(filter command line,$(origin DISPLAY)),$(DISPLAY))" $(if $(CAPACITY),--capacity "$(CAPACITY)")

agent-list: setup env
	@$(PY) -m tools.accounts list

# make agent-set NAME=carol [QUEUES=general] [CAPACITY=5] [ROLE=trainer] [DISPLAY="Carol Diaz-Lee"]
agent-set: setup env
	@$(PY) -m tools.accounts set "$(NAME)" $(if $(QUEUES),--queues "$(QUEUES)") \
		$(if $(CAPACITY),--capacity "$(CAPACITY)") $(if $(ROLE),--role "$(ROLE)") \
		$(if $(filter command line,$(origin DISPLAY)),--display-name "$(DISPLAY)")

agent-password: setup env
	@$(PY) -m tools.accounts password "$(NAME)"

agent-deactivate: setup env
	@$(PY) -m tools.accounts deactivate "$(NAME)"

agent-activate: setup env
	@$(PY) -m tools.accounts activate "$(NAME)"

# Trainers (README: What a trainer does). The inbox and labelling are also on http://127.0.0.1:8000/trainer
inbox: setup env
	@$(PY) -m training inbox

# Trains a candidate, runs the gate and loads it into the running Rasa server (make demo) if it passes.
release: setup env
	@$(PY) -m training release

rollback: setup env
	@$(PY) -m training rollback
