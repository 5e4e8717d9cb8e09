"""Dedupe service: streaming entity resolution of client records into golden clients."""
