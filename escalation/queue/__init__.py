"""The human queue: handoffs (atomic claim, leases, SLA breaches), the agents roster, and the queue
state the policy decides with. SQLAlchemy on the product's one database."""
