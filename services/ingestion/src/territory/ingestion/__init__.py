"""Ingestion service: validates CRM client records and publishes them to `client.received`."""
