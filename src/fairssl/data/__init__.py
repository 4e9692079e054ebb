"""fairssl.data."""
