"""Export and import of everything remembered as JSON lines: memories with their counters and outcome logs,
episodes with their events; lossless and restartable.

May import the services, ``storage`` and the base.
"""
