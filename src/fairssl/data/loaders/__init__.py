"""fairssl.data.loaders."""
