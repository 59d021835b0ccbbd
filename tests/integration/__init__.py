"""Integration tests: the cluster from the built container images (see conftest.py)."""
