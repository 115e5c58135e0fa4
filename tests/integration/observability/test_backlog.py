"""Backlog gauges come from the database, by subscriber name, cheaply."""

from __future__ import annotations

from gateway.maintenance.backlog import BacklogMonitor
from gateway.observability import Metrics
from gateway.store.database import Database
from gateway.store.sql import QUERIES
from testkit.bulkdata import seed, seed_subscribers


def gauge(metrics: Metrics, subscriber: str, status: str) -> float | None:
    return metrics.registry.get_sample_value(
        "gateway_deliveries_backlog", {"subscriber": subscriber, "status": status}
    )


def disabled(metrics: Metrics, subscriber: str) -> float | None:
    return metrics.registry.get_sample_value(
        "gateway_subscriber_disabled", {"subscriber": subscriber}
    )


async def test_pending_in_flight_and_dead_are_counted_per_subscriber_name(db: Database) -> None:
    warehouse, erp = await seed_subscribers(db.pool, ["warehouse", "erp"])
    await seed_subscribers(db.pool, ["idle"])
    await seed(db.pool, count=5_000, age_days=1, subscriber_ids=[warehouse, erp], attempts=0)
    await seed(db.pool, count=1_200, age_days=0, subscriber_ids=[warehouse], status="pending")
    await seed(db.pool, count=40, age_days=0, subscriber_ids=[warehouse], status="in_flight")
    await seed(db.pool, count=7, age_days=0, subscriber_ids=[erp], status="dead")
    metrics = Metrics()

    await BacklogMonitor(db, metrics, 15).refresh()

    assert gauge(metrics, "warehouse", "pending") == 1_200
    assert gauge(metrics, "warehouse", "in_flight") == 40
    assert gauge(metrics, "warehouse", "dead") == 0
    assert gauge(metrics, "erp", "dead") == 7
    assert gauge(metrics, "idle", "pending") == 0
    assert gauge(metrics, "warehouse", "queued") == 0
    assert gauge(metrics, "warehouse", "succeeded") is None
    assert disabled(metrics, "warehouse") == 0


async def test_a_disabled_subscriber_shows_and_a_deleted_one_leaves_no_series(
    db: Database,
) -> None:
    warehouse, erp = await seed_subscribers(db.pool, ["warehouse", "erp"])
    await seed(db.pool, count=5, age_days=0, subscriber_ids=[erp], status="pending")
    metrics = Metrics()
    monitor = BacklogMonitor(db, metrics, 15)
    await monitor.refresh()
    assert gauge(metrics, "erp", "pending") == 5

    await db.pool.execute("UPDATE subscribers SET state = 'disabled' WHERE id = $1", warehouse)
    await db.pool.execute("DELETE FROM subscribers WHERE id = $1", erp)
    await monitor.refresh()

    assert disabled(metrics, "warehouse") == 1
    assert disabled(metrics, "erp") is None
    assert gauge(metrics, "erp", "pending") is None


async def test_the_backlog_query_reads_only_the_indexes_of_the_backlog(db: Database) -> None:
    subs = await seed_subscribers(db.pool, ["warehouse", "erp"])
    await seed(db.pool, count=10_000, age_days=1, subscriber_ids=subs, attempts=0)
    await seed(db.pool, count=500, age_days=0, subscriber_ids=subs, status="pending")
    await seed(db.pool, count=20, age_days=0, subscriber_ids=subs, status="in_flight")
    await db.pool.execute("VACUUM ANALYZE deliveries")

    for subscriber in (None, subs[0]):
        plan = "\n".join(
            r[0]
            for r in await db.pool.fetch(
                f"EXPLAIN (ANALYZE) {QUERIES['backlog_by_subscriber']}", subscriber
            )
        )

        scans = [
            line.split(" on deliveries")[0].strip("-> ")
            for line in plan.splitlines()
            if " on deliveries " in line
        ]
        assert len(scans) == 4
        assert all(scan.startswith("Index Only Scan using deliveries_") for scan in scans)
        assert "Index Only Scan using deliveries_lease_idx" in plan


async def test_one_subscribers_backlog_is_counted_alone(db: Database) -> None:
    warehouse, erp = await seed_subscribers(db.pool, ["warehouse", "erp"])
    await seed(db.pool, count=30, age_days=0, subscriber_ids=[warehouse], status="pending")
    await seed(db.pool, count=4, age_days=0, subscriber_ids=[erp], status="in_flight")

    rows = await db.pool.fetch(QUERIES["backlog_by_subscriber"], erp)

    assert {(r["name"], r["status"]): r["count"] for r in rows} == {
        ("erp", "queued"): 0,
        ("erp", "pending"): 0,
        ("erp", "in_flight"): 4,
        ("erp", "dead"): 0,
    }


async def test_deliveries_in_flight_or_succeeded_have_no_entry_in_the_status_indexes(
    db: Database,
) -> None:
    subs = await seed_subscribers(db.pool, ["warehouse"])
    for status, count in (("succeeded", 300), ("in_flight", 40), ("pending", 12), ("dead", 5)):
        await seed(db.pool, count=count, age_days=0, subscriber_ids=subs, status=status)
    await seed(db.pool, count=3, age_days=0, subscriber_ids=subs, status="cancelled")
    await db.pool.execute("VACUUM ANALYZE deliveries")

    entries = {
        r["relname"]: r["reltuples"]
        for r in await db.pool.fetch(
            "SELECT relname, reltuples FROM pg_class WHERE relname = ANY ($1::text[])",
            [
                "deliveries_status_id_idx",
                "deliveries_subscriber_status_idx",
                "deliveries_lease_idx",
            ],
        )
    }

    assert entries == {
        "deliveries_status_id_idx": 12 + 5 + 3,
        "deliveries_subscriber_status_idx": 12 + 5 + 3,
        "deliveries_lease_idx": 40,
    }
