"""The agent-facing web app: an app factory and one blueprint per audience (the website, agents)."""
