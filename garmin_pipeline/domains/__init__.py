"""Data domains: each module declares its feeds, datasets, columns and parsers."""
