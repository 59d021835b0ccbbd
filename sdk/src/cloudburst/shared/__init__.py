"""Types shared by the client and the runtime (seed-compatible import paths)."""
