"""Work that keeps a running gateway in shape: retention, the backlog gauges, lease upkeep."""
