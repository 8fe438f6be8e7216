"""Episodic memory: what a swarm did on a task, event by event; how an ended episode is summarised and found
again; failure analysis; and the memory-informed task prompt.

May import ``memory`` (episodes learn error fixes), ``storage`` and the base; never the edge.
"""
