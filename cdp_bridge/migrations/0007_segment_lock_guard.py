"""The segment-group lock in the database (PostgreSQL only): triggers that refuse, in SQL too,
every change to a locked group and to the segments of one.

Row triggers, so TRUNCATE is not refused. The sync engine passes them by setting
``cdp_bridge.cdp_writes`` to ``on`` for its transaction (``SET LOCAL``); raw SQL can do the
same on purpose. Memberships are not guarded here: deleting a user deletes theirs, always, and
a trigger on the membership table would cost every set-based write of the sync engine.
"""

from django.db import migrations

SETTING = "cdp_bridge.cdp_writes"  # cdp_bridge.models.segments.CDP_WRITES_SETTING

FORWARD = """
CREATE FUNCTION cdp_bridge_refuse_locked_group() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.locked_at IS NOT NULL
            AND coalesce(current_setting('{setting}', true), '') <> 'on' THEN
        RAISE EXCEPTION 'The segment group % is connected to a CDP activation and is managed '
                        'by the CDP alone: it cannot be changed or deleted.', OLD.identifier
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Create a new segment group instead.';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER cdp_bridge_segment_group_lock
    BEFORE UPDATE OR DELETE ON {groups}
    FOR EACH ROW EXECUTE FUNCTION cdp_bridge_refuse_locked_group();

CREATE FUNCTION cdp_bridge_refuse_locked_segment() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    locked text;
BEGIN
    IF coalesce(current_setting('{setting}', true), '') <> 'on' THEN
        SELECT g.identifier INTO locked FROM {groups} g
        -- OLD is NULL for an INSERT, NEW for a DELETE.
        WHERE g.locked_at IS NOT NULL AND g.id IN (OLD.group_id, NEW.group_id)
        LIMIT 1;
        IF locked IS NOT NULL THEN
            RAISE EXCEPTION 'The segments of the segment group % are managed by the CDP alone: '
                            'they cannot be added, changed or deleted.', locked
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Only the activation webhook writes the segments of a locked group.';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER cdp_bridge_segment_lock
    BEFORE INSERT OR UPDATE OR DELETE ON {segments}
    FOR EACH ROW EXECUTE FUNCTION cdp_bridge_refuse_locked_segment();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS cdp_bridge_segment_lock ON {segments};
DROP FUNCTION IF EXISTS cdp_bridge_refuse_locked_segment();
DROP TRIGGER IF EXISTS cdp_bridge_segment_group_lock ON {groups};
DROP FUNCTION IF EXISTS cdp_bridge_refuse_locked_group();
"""


def _run(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return  # the model layer guards the other databases
        quote = schema_editor.quote_name
        schema_editor.execute(  # no parameters: the % in the SQL are PL/pgSQL's
            sql.format(
                setting=SETTING,
                groups=quote(apps.get_model("cdp_bridge", "SegmentGroup")._meta.db_table),
                segments=quote(apps.get_model("cdp_bridge", "Segment")._meta.db_table),
            ),
            params=None,
        )

    return run


class Migration(migrations.Migration):
    dependencies = [("cdp_bridge", "0006_exportrun_heartbeat")]
    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
