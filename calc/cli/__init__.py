"""The command line, one module per command family; ``python -m calc`` runs it."""
