"""Seed-compatible client path: ``from cloudburst.client.client import CloudburstConnection``."""
