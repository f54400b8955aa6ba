"""Drafts keep their findings and answers in Read.draft; the rows of reads not yet submitted move there."""

from django.db import migrations, models


def rows_to_drafts(apps, schema_editor):
    Read = apps.get_model("readerstudy", "Read")
    ReadFinding = apps.get_model("readerstudy", "ReadFinding")
    Rating = apps.get_model("readerstudy", "Rating")
    for read in Read.objects.filter(submitted_at__isnull=True):
        answers = Rating.objects.filter(read=read).order_by("question__order", "question__key")
        read.draft = {
            "findings": list(ReadFinding.objects.filter(read=read).values_list("label__slug", flat=True)),
            "ratings": {r.question.key: r.value for r in answers if not r.not_applicable},
            "not_applicable": [r.question.key for r in answers if r.not_applicable],
        }
        read.save(update_fields=["draft"])
    ReadFinding.objects.filter(read__submitted_at__isnull=True).delete()
    Rating.objects.filter(read__submitted_at__isnull=True).delete()


def drafts_to_rows(apps, schema_editor):
    Read = apps.get_model("readerstudy", "Read")
    ReadFinding = apps.get_model("readerstudy", "ReadFinding")
    Rating = apps.get_model("readerstudy", "Rating")
    Label = apps.get_model("readerstudy", "Label")
    Question = apps.get_model("readerstudy", "StudyQuestion")
    for read in Read.objects.filter(submitted_at__isnull=True).select_related("assignment__study"):
        study = read.assignment.study
        draft = read.draft or {}
        labels = Label.objects.filter(vocabulary=study.label_vocabulary, slug__in=draft.get("findings", []))
        ReadFinding.objects.bulk_create([ReadFinding(read=read, label=label) for label in labels])
        questions = {q.key: q for q in Question.objects.filter(study_id=study.pk)}
        answers = [(key, value, False) for key, value in draft.get("ratings", {}).items()]
        answers += [(key, None, True) for key in draft.get("not_applicable", [])]
        Rating.objects.bulk_create(
            [Rating(read=read, question=questions[k], value=v, not_applicable=na) for k, v, na in answers if k in questions]
        )


class Migration(migrations.Migration):
    dependencies = [("readerstudy", "0020_not_applicable")]

    operations = [
        migrations.AddField(
            model_name="read",
            name="draft",
            field=models.JSONField(
                blank=True,
                db_default={},
                default=dict,
                help_text="The autosaved findings and answers (drafts only).",
            ),
        ),
        migrations.RunPython(rows_to_drafts, drafts_to_rows),
    ]
