"""Storage: the database that is the system of record, the Chroma vector index, and how the two agree.

May import the base (config, models, errors, words) and nothing above it.
"""
