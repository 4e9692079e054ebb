"""fairssl.evaluation."""
