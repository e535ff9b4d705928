"""The query layer: routing a query to the spaces it can search, coarse-to-fine search, and spans."""
