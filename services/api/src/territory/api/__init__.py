"""Territory Engine API: read and admin REST API over the warehouse for the dashboard.

It reads the warehouse and publishes people's decisions as events; it never writes an
assignment itself.
"""
