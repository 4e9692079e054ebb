"""fairssl.report."""
