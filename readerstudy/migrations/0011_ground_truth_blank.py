"""Ground truth keeps what the labels file said: a blank cell becomes "blank" (until now stored as "unknown",
which only the labels file's blank cells produced), and each study says how blanks score. Studies that exist
already keep the rule they were made under (blank is unknown); new studies score blanks as negative."""

from django.db import migrations, models
from django.db.models import F

BLANK_TRUTH_CHOICES = [('negative', "Negative (as CheXpert's evaluation)"), ('unknown', 'Unknown (left out of scoring)')]
BLANK_TRUTH_HELP = 'How a ground-truth label the labels file left blank scores, for readers and the AI alike.'


def unknown_to_blank(apps, schema_editor):
    apps.get_model("readerstudy", "GroundTruth").objects.filter(value="unknown").update(value="blank")


def blank_to_unknown(apps, schema_editor):
    apps.get_model("readerstudy", "GroundTruth").objects.filter(value="blank").update(value="unknown")


def outdate_analyses(apps, schema_editor):
    """Scoring changed (No Finding derived, never an AI error): the periodic sweep recomputes every analysis."""
    apps.get_model("readerstudy", "StudyAnalysis").objects.update(requested_version=F("requested_version") + 1)


class Migration(migrations.Migration):

    dependencies = [
        ('readerstudy', '0010_study_analysis'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='groundtruth',
            name='groundtruth_value_valid',
        ),
        migrations.AlterField(
            model_name='groundtruth',
            name='value',
            field=models.CharField(choices=[('positive', 'Positive'), ('negative', 'Negative'), ('uncertain', 'Uncertain'), ('unknown', 'Unknown'), ('blank', 'Blank in the labels file')], max_length=10),
        ),
        migrations.AddConstraint(
            model_name='groundtruth',
            constraint=models.CheckConstraint(condition=models.Q(('value__in', ['positive', 'negative', 'uncertain', 'unknown', 'blank'])), name='groundtruth_value_valid'),
        ),
        migrations.RunPython(unknown_to_blank, blank_to_unknown),
        # Existing studies: the rule they were made under.
        migrations.AddField(
            model_name='study',
            name='blank_truth',
            field=models.CharField(choices=BLANK_TRUTH_CHOICES, default='unknown', help_text=BLANK_TRUTH_HELP, max_length=10),
        ),
        migrations.AlterField(
            model_name='study',
            name='blank_truth',
            field=models.CharField(choices=BLANK_TRUTH_CHOICES, default='negative', help_text=BLANK_TRUTH_HELP, max_length=10),
        ),
        migrations.AddConstraint(
            model_name='study',
            constraint=models.CheckConstraint(condition=models.Q(('blank_truth__in', ['negative', 'unknown'])), name='study_blank_truth_valid'),
        ),
        migrations.RunPython(outdate_analyses, migrations.RunPython.noop),
    ]
