"""fairssl.similarity."""
