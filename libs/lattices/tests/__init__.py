"""Tests for cloudburst-lattices."""
