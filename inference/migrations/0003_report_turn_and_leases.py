"""The structured-report turn marked on the configuration and on each stored turn (it was found by matching
the prompt's text); the job lease's columns documented by the shared lease helper."""

from django.db import migrations, models

# The text the report turn was recognised by until now.
REPORT_PROMPT = "write a structured report"


def is_report_prompt(text):
    return text.strip().rstrip(".").lower() == REPORT_PROMPT


def mark_report_turns(apps, schema_editor):
    """What the old rule found, recorded: each configuration's report follow-up, each output's turn kinds."""
    ModelConfiguration = apps.get_model("inference", "ModelConfiguration")
    ModelOutput = apps.get_model("inference", "ModelOutput")
    for configuration in ModelConfiguration.objects.all():
        numbers = [n for n, text in enumerate(configuration.follow_up_prompts, start=1) if is_report_prompt(text)]
        configuration.report_follow_up = numbers[0] if numbers else None
        configuration.save(update_fields=["report_follow_up"])
    for output in ModelOutput.objects.all():
        report = next((i for i, turn in enumerate(output.turns) if is_report_prompt(turn["prompt"])), None)
        for index, turn in enumerate(output.turns):
            turn["kind"] = "findings" if index == 0 else "report" if index == report else "follow_up"
        output.save(update_fields=["turns"])


class Migration(migrations.Migration):

    dependencies = [
        ('inference', '0002_default_model_configurations'),
    ]

    operations = [
        migrations.AddField(
            model_name='modelconfiguration',
            name='report_follow_up',
            field=models.PositiveSmallIntegerField(blank=True, default=1, help_text='Which follow-up (1 = the first) asks for the structured report that the full-reasoning arm shows, whatever its wording; blank: none.', null=True),
        ),
        migrations.AlterField(
            model_name='inferencejob',
            name='lease_expires_at',
            field=models.DateTimeField(blank=True, help_text='When the lease runs out unless renewed.', null=True),
        ),
        migrations.AlterField(
            model_name='inferencejob',
            name='lease_token',
            field=models.UUIDField(blank=True, help_text="The claiming worker's token, while held.", null=True),
        ),
        migrations.RunPython(mark_report_turns, migrations.RunPython.noop),
    ]
