"""Who is calling and how much they may: bearer tokens that name agents and their roles, per-agent and
per-address rate limits, and which hosts count as this machine.

Shared by both front ends (the MCP edge and the web console); imports only the base.
"""
