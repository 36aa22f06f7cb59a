"""Escalation: the pure decision core (core/), the business's rules (rules.yml, read by rules_file.py),
the human queue (queue/) and the agent-facing web app (web/)."""
