"""The worker side: persisting each flush, publishing it, keeping running rows alive.

``persist`` writes a flush in one UPDATE ordered by ``seq``, ``publisher`` sends from
plain sync code on one long-lived event loop, ``heartbeat`` marks which rows still
have a living worker. It uses :mod:`liveops_htmx.rendering`, never the server side.
"""
