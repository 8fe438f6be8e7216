"""The MCP edge: the server, its tool groups, transports (stdio, streamable HTTP), auth, limits, and forwarding
to the process that owns the store.

The only package that imports the MCP SDK. Tools check and name arguments, call the domain services through
``MemoryApp``, and turn domain errors into tool errors; no business rule lives here.
"""
