"""The segment group the example's CDP activation writes into (config/cdp.yaml)."""

from django.db import migrations

IDENTIFIER = "example_segment_group_identifier"


def create_group(apps, schema_editor):
    SegmentGroup = apps.get_model("cdp_bridge", "SegmentGroup")
    SegmentGroup.objects.get_or_create(identifier=IDENTIFIER, defaults={"name": "CDP audiences"})


def delete_group(apps, schema_editor):
    apps.get_model("cdp_bridge", "SegmentGroup").objects.filter(
        identifier=IDENTIFIER, locked_at__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("cdp_bridge", "0001_initial")]
    operations = [migrations.RunPython(create_group, delete_group)]
