"""The database: models, engine and migrations, queries, and the one module that changes a reminder's state."""
