"""Escalation: how customers feel, the segment-aware hand-over policy, and the human queue."""
