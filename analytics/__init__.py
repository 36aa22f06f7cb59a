"""Analytics: containment, handoffs, waits, SLAs and CSAT per segment, from a fact table of one row per
conversation (analytics/store.py) that the product's stores fill (analytics/facts.py). Registered into the
escalation service by service/wiring.py; escalation/ never imports it."""
