"""fairssl.ssl."""
