"""The ondo command line: thin typer shells over the library."""
