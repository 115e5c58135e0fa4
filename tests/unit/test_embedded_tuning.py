"""The embedded PostgreSQL's tuning: sized to the machine, never trading durability."""

from __future__ import annotations

from gateway.store.embedded import tuning

GB = 1024**3


def test_durability_settings_stay_on_whatever_the_memory() -> None:
    for memory in (1 * GB, 64 * GB):
        settings = tuning(memory)
        assert settings["fsync"] == "on"
        assert settings["synchronous_commit"] == "on"
        assert settings["full_page_writes"] == "on"


def test_shared_buffers_are_a_sixteenth_of_memory_within_bounds() -> None:
    assert tuning(1 * GB)["shared_buffers"] == "128MB"
    assert tuning(4 * GB)["shared_buffers"] == "256MB"
    assert tuning(64 * GB)["shared_buffers"] == "512MB"


def test_full_page_images_are_never_compressed_with_pglz() -> None:
    assert tuning(4 * GB)["wal_compression"] not in ("on", "pglz")
