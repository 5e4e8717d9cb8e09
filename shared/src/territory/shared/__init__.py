"""Territory Engine shared library.

Only what every service needs lives here: the event contract, topic names, settings,
broker, dead-letter, logging and warehouse plumbing, and the `territory` CLI host.
Business logic (matching, rules, loading) belongs to the service that owns it.
"""
