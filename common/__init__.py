"""What every part of the product shares: settings, names, identity (tokens and conversation ids),
screening of typed text, customer profiles (the CRM), the database, and Rasa's HTTP API and command line."""
