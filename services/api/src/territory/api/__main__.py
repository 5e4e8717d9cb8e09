"""API service: `python -m territory.api`."""

from territory.api.app import main

main()
