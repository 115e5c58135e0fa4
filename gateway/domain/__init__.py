"""The gateway's concepts and their rules: a subscriber's and a source's settings (one
definition each), event-type patterns, ids, what is hidden, where a delivery may go, and
how a refused setting is reported."""
