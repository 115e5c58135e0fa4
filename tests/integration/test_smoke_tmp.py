async def test_db_works(db):
    assert await db.fetchval("ping") == 1
