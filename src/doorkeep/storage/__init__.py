"""Storage: the schema (tables), the database connection, and migrations."""

from doorkeep.storage.database import Database, async_url

__all__ = ["Database", "async_url"]
