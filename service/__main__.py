"""`python -m service`: the escalation service (website, agent console, agents' and trainers' API)."""

from service.wiring import main

main()
