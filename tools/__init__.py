"""Tooling run by `make` and by the tests and benchmarks (the launcher, seeding, `.env` creation, token
printing, a widget-protocol client). No product code imports it."""
