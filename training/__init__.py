"""Trainers' tools: the review inbox, labelling into data/, and the safe release of a new model."""
