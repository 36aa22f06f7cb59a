"""The escalation service process: wires the escalation web app's blueprints and the trainers' blueprint
into one app over the product's stores. The only place that knows both escalation/ and training/."""
