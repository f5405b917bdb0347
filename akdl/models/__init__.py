"""Models ready to call from a main script."""
