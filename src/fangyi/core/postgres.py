"""SQL that only PostgreSQL runs, kept in one place; on SQLite these are no-ops."""

from django.db import migrations


def postgresql_only(sql: str, reverse_sql: str) -> migrations.RunPython:
    """A migration operation running `sql` on PostgreSQL and nothing elsewhere."""

    def run(statement: str):
        def forward(apps, schema_editor):
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.execute(statement)

        return forward

    return migrations.RunPython(run(sql), run(reverse_sql))
