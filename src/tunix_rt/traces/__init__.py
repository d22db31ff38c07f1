"""Reasoning traces: schema, storage, scoring and comparison."""
