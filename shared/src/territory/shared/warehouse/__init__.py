"""Warehouse plumbing shared by the loader (writer) and the API (reader): the table model
(`schema`) and the engine factory (`engine`)."""
