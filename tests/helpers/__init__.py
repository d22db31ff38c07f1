"""Shared test helpers: trace factories and a real server / CLI environment."""
