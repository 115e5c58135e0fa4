"""Work that keeps a running gateway in shape: retention and the backlog gauges.

The dispatcher's own housekeeping (expired leases, stranded ordered deliveries) runs
between its claims and lives beside it, in ``gateway.delivery.upkeep``.
"""
