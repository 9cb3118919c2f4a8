"""Repository-wide pytest hooks: the notebooks' local_aws and output comparison (nbval)."""

pytest_plugins = ["tests.notebooks.plugin"]
