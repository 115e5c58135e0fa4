"""The scenarios of the fault suite."""
