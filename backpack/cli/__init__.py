"""Click commands: thin wrappers over the library (see ``backpack.cli.main``)."""
