"""The seeded knowledge base (``seeds/`` Markdown files) and custom knowledge added by agents.

May import ``memory``, ``storage`` and the base.
"""
