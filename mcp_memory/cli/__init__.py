"""The command line for people and scripts: ``mcp-memory serve | console | seed | stats | recall | import |
export | backup | repair | purge | warm | demo``.

One dispatch (``main``), one error wrapper: every command prints our errors as one line. Commands use the
services through ``MemoryApp`` or reach a serving owner through the edge; they never touch storage directly.
"""
