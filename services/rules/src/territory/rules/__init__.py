"""Rules service: territory and advisor assignment by a ruleset kept as data."""
