"""The decision core: pure functions and plain data. Nothing here does I/O, reads settings or the
environment, or imports a database, web or Rasa library; adapters around it do."""
