"""The fault suite: prove that nothing the gateway acknowledged is lost, whatever crashes.

Each scenario runs real ``webhook-gateway serve`` processes (testkit/processes.py)
against real PostgreSQL, drives them with a load generator that records every event
the gateway acknowledged (:mod:`chaos.load`), delivers to subscribers on loopback that
record every ``webhook-id`` they receive (:mod:`chaos.subscribers`), injects its fault,
and then hands everything to the checker (:mod:`chaos.checker`), which also reads the
database directly.

``python -m chaos`` runs every scenario at full size and prints the figures;
``tests/chaos`` runs the same scenarios, smaller, inside ``make test``.
"""
