"""The MCP tools, resources and prompt, in groups; each ``register`` adds its group to a server.

Only this package and ``server.py`` import the MCP SDK: the tools validate and name arguments, call the domain
services, and turn their errors into tool errors the agent reads.
"""
