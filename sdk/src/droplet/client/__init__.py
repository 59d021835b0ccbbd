"""Earlier-name client path."""
