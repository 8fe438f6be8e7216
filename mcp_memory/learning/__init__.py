"""Learning from what agents did: a consensus winner becomes a solution and patterns; pattern suggestions for a
new task, ranked by relevance and record.

May import ``episodes``, ``memory``, ``extraction``, ``storage`` and the base.
"""
