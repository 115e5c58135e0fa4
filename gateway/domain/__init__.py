"""The gateway's concepts and their rules: ids, what is hidden, where a delivery may go."""
