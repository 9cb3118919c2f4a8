"""Mutation testing: `make mutants` (docs/mutation-testing.md)."""
