"""fairssl.experiments."""
