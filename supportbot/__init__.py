"""Shared core of the support bot: settings, vocabulary, customer profiles, identity tokens."""
