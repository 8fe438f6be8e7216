"""Storing and recalling memories: drafts from tool arguments, de-duplication, the word index and catalog,
ranking by outcome, recall fused from vectors and words, and argument validation shared by every service.

May import ``extraction`` (language names), ``storage`` and the base.
"""
