"""SQLModel tables, their queries, and the database engine."""
