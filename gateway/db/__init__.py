"""The database: the async engine and sessions (`engine`), the models, the Alembic migrations
(`migrate`, `migrations/`), demo data (`seed`) and text PostgreSQL can keep (`storable`). The bottom
layer: every other part may import it; it imports nothing else of the project."""
