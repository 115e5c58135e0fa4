"""Running services: start in order, stop in reverse, whatever fails on the way."""
