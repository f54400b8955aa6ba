"""A secret per study for the per-assignment image UIDs; every existing study gets its own."""

import secrets

import readerstudy.models.studies
from django.db import migrations, models


def one_key_each(apps, schema_editor):
    # AddField gives every existing row the same default value.
    Study = apps.get_model("readerstudy", "Study")
    for pk in Study.objects.values_list("pk", flat=True):
        Study.objects.filter(pk=pk).update(image_key=secrets.token_hex(32))


class Migration(migrations.Migration):

    dependencies = [
        ('readerstudy', '0013_history_and_audit'),
    ]

    operations = [
        migrations.AddField(
            model_name='study',
            name='image_key',
            field=models.CharField(default=readerstudy.models.studies.new_image_key, editable=False, help_text="Secret of the keyed hash that gives each assignment's image UIDs of its own (served_images.py).", max_length=64),
        ),
        migrations.RunPython(one_key_each, migrations.RunPython.noop),
    ]
