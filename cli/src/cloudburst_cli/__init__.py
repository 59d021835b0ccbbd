"""cbctl, the Cloudburst command line."""
