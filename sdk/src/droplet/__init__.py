"""The project's earlier name: ``from droplet.client.client import DropletConnection``."""
