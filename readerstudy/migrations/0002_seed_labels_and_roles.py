"""Seed the CheXpert vocabulary and the three role groups; make timing events append-only in the database."""

from django.db import migrations

from readerstudy.core.labels import CHEXPERT_LABELS, CHEXPERT_VOCABULARY

ROLE_GROUPS = ["reader", "coordinator", "admin"]

# Reading time is the study's primary measurement: the raw event log must not change after the fact,
# whatever code or admin tries to.
APPEND_ONLY_SQL = """
CREATE FUNCTION readerstudy_timingevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'timing events are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER readerstudy_timingevent_append_only
    BEFORE UPDATE OR DELETE ON readerstudy_timingevent
    FOR EACH ROW EXECUTE FUNCTION readerstudy_timingevent_append_only();
"""
SQLITE_APPEND_ONLY_SQL = [
    f"""CREATE TRIGGER readerstudy_timingevent_no_{action.lower()} BEFORE {action} ON readerstudy_timingevent
    BEGIN SELECT RAISE(ABORT, 'timing events are append-only'); END;"""
    for action in ("UPDATE", "DELETE")
]
DROP_APPEND_ONLY_SQL = """
DROP TRIGGER IF EXISTS readerstudy_timingevent_append_only ON readerstudy_timingevent;
DROP FUNCTION IF EXISTS readerstudy_timingevent_append_only();
"""


def seed_labels(apps, schema_editor):
    Label = apps.get_model("readerstudy", "Label")
    for order, (slug, name) in enumerate(CHEXPERT_LABELS):
        Label.objects.update_or_create(
            vocabulary=CHEXPERT_VOCABULARY, slug=slug, defaults={"name": name, "order": order}
        )


def seed_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)


def add_append_only_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_SQL)
    elif vendor == "sqlite":
        for statement in SQLITE_APPEND_ONLY_SQL:
            schema_editor.execute(statement)


def drop_append_only_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(DROP_APPEND_ONLY_SQL)
    elif vendor == "sqlite":
        for action in ("update", "delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS readerstudy_timingevent_no_{action}")


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("readerstudy", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(seed_labels, migrations.RunPython.noop),
        migrations.RunPython(seed_groups, migrations.RunPython.noop),
        migrations.RunPython(add_append_only_trigger, drop_append_only_trigger),
    ]
