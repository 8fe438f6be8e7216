"""The web console: people browse memory, replay episodes and see failures and trends, read-only.

``build_console(data, settings)`` makes the ASGI app over a ``ConsoleData`` (``LocalData`` over this process's
store, ``OwnerData`` over the process that owns it); ``with_console`` serves it beside ``/mcp``.
"""
