"""The search modes (one place for the CLI, the library API and the query layer). See hybrid.py
for what each does and why hybrid is the default."""

MODES = ("vector", "text", "hybrid")
DEFAULT_MODE = "hybrid"
