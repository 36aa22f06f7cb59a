"""Everything this project plugs into Rasa: input channels, NLU components, the escalation policy,
the tracker store and per-turn speed-ups. Named in config.yml, bot/credentials.yml and bot/endpoints.yml."""
