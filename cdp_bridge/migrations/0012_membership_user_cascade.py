"""Deleting a user always works, also while a delivery makes them a member (PostgreSQL only).

Django deletes a user's memberships and then the user, in one transaction. A delivery that
makes them a member in between (it key-share locks the user, who is not deleted yet) commits
first, and the user's deletion then failed at commit: a foreign key still referring to them.
The membership's foreign key to the user is made ``ON DELETE CASCADE`` in the database too, so
the database deletes what Django could not see. It stays deferrable, as Django creates it.

A later migration that alters ``SegmentMembership.user`` recreates the constraint as Django
writes it, without the cascade: such a migration must run this one's SQL again.
"""

from django.db import migrations

FIND_CONSTRAINT = """
SELECT c.conname FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
WHERE c.conrelid = %s::regclass AND c.contype = 'f' AND a.attname = %s
"""


def _foreign_key(on_delete):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return  # SQLite and the others run one writer at a time: no such interleaving
        membership = apps.get_model("cdp_bridge", "SegmentMembership")
        field = membership._meta.get_field("user")
        user = field.remote_field.model
        table = membership._meta.db_table
        quote = schema_editor.quote_name
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(FIND_CONSTRAINT, [quote(table), field.column])
            names = [row[0] for row in cursor.fetchall()]
        for name in names:
            schema_editor.execute(
                f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}", params=None
            )
        name = names[0] if names else f"{table}_{field.column}_fk_cascade"
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} "
            f"FOREIGN KEY ({quote(field.column)}) "
            f"REFERENCES {quote(user._meta.db_table)} ({quote(user._meta.pk.column)}) "
            f"{on_delete} DEFERRABLE INITIALLY DEFERRED",
            params=None,
        )

    return run


class Migration(migrations.Migration):
    dependencies = [("cdp_bridge", "0011_webhook_signature")]
    operations = [
        migrations.RunPython(_foreign_key("ON DELETE CASCADE"), _foreign_key("ON DELETE NO ACTION"))
    ]
