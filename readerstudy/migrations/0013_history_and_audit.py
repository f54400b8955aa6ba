"""Model history (django-simple-history) for the study's protocol and cases; audit entries keep the actor's
username, protect the user from deletion, and become append-only in the database itself."""

import django.db.models.deletion
import readerstudy.models.cases
import readerstudy.models.reading
import readerstudy.models.studies
import simple_history.models
from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

# An audit trail nothing can erase, whatever code or admin tries to. The suite's flush between transactional
# tests truncates every table; only its connections set readerstudy.allow_truncate (tests/settings.py).
APPEND_ONLY_SQL = """
CREATE FUNCTION readerstudy_auditentry_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('readerstudy.allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit entries are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER readerstudy_auditentry_append_only
    BEFORE UPDATE OR DELETE ON readerstudy_auditentry
    FOR EACH ROW EXECUTE FUNCTION readerstudy_auditentry_append_only();
CREATE TRIGGER readerstudy_auditentry_no_truncate
    BEFORE TRUNCATE ON readerstudy_auditentry
    FOR EACH STATEMENT EXECUTE FUNCTION readerstudy_auditentry_append_only();
"""
DROP_APPEND_ONLY_SQL = """
DROP TRIGGER IF EXISTS readerstudy_auditentry_append_only ON readerstudy_auditentry;
DROP TRIGGER IF EXISTS readerstudy_auditentry_no_truncate ON readerstudy_auditentry;
DROP FUNCTION IF EXISTS readerstudy_auditentry_append_only();
"""
# SQLite has no TRUNCATE; an unqualified DELETE runs the row trigger (a table with triggers is never cleared
# in one step).
SQLITE_APPEND_ONLY_SQL = [
    f"""CREATE TRIGGER readerstudy_auditentry_no_{action.lower()} BEFORE {action} ON readerstudy_auditentry
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;"""
    for action in ("UPDATE", "DELETE")
]


def snapshot_usernames(apps, schema_editor):
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    apps.get_model("readerstudy", "AuditEntry").objects.filter(user__isnull=False).update(
        username=Subquery(User.objects.filter(pk=OuterRef("user_id")).values("username")[:1]))


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
            schema_editor.execute(f"DROP TRIGGER IF EXISTS readerstudy_auditentry_no_{action}")


class Migration(migrations.Migration):

    dependencies = [
        ('readerstudy', '0012_primary_comparison'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='HistoricalAssignment',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('public_id', models.CharField(db_index=True, default=readerstudy.models.reading.new_assignment_public_id, editable=False, max_length=24)),
                ('arm', models.CharField(choices=[('UNAIDED', 'Unaided'), ('LABELS_ONLY', 'AI labels only'), ('FULL_REASONING', 'Full AI reasoning')], max_length=20)),
                ('position', models.PositiveIntegerField(help_text='Order within the session, from 1.')),
                ('status', models.CharField(choices=[('assigned', 'Assigned'), ('started', 'Started'), ('submitted', 'Submitted')], default='assigned', max_length=10)),
                ('is_practice', models.BooleanField(default=False, help_text='A practice case: read, never analysed.')),
                ('created_at', models.DateTimeField(blank=True, editable=False)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
            ],
            options={
                'verbose_name': 'historical assignment',
                'verbose_name_plural': 'historical assignments',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='HistoricalCase',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('public_id', models.CharField(db_index=True, default=readerstudy.models.cases.new_case_public_id, editable=False, max_length=32)),
                ('source_id', models.CharField(help_text='The id the case was imported under (folder or file name); admins only.', max_length=255)),
                ('reference_report', models.TextField(blank=True)),
                ('is_abnormal', models.BooleanField(editable=False, null=True)),
                ('created_at', models.DateTimeField(blank=True, editable=False)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
            ],
            options={
                'verbose_name': 'historical case',
                'verbose_name_plural': 'historical cases',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='HistoricalCaseSet',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('name', models.CharField(db_index=True, max_length=200)),
                ('description', models.TextField(blank=True)),
                ('created_at', models.DateTimeField(blank=True, editable=False)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
            ],
            options={
                'verbose_name': 'historical case set',
                'verbose_name_plural': 'historical case sets',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='HistoricalCaseSetMembership',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('position', models.PositiveIntegerField()),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
            ],
            options={
                'verbose_name': 'historical case set membership',
                'verbose_name_plural': 'historical case set memberships',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='HistoricalGroundTruth',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('value', models.CharField(choices=[('positive', 'Positive'), ('negative', 'Negative'), ('uncertain', 'Uncertain'), ('unknown', 'Unknown'), ('blank', 'Blank in the labels file')], max_length=10)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
            ],
            options={
                'verbose_name': 'historical ground truth',
                'verbose_name_plural': 'historical ground truth',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='HistoricalStudy',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('title', models.CharField(max_length=200)),
                ('description', models.TextField(blank=True)),
                ('instructions', models.TextField(blank=True, help_text='Shown to readers before their first case.')),
                ('arms', models.JSONField(default=readerstudy.models.studies.all_arms, validators=[readerstudy.models.studies.validate_arms])),
                ('label_vocabulary', models.SlugField(default='chexpert', help_text='The labels readers choose from (Label.vocabulary).', max_length=40)),
                ('status', models.CharField(choices=[('draft', 'Draft'), ('open', 'Open'), ('closed', 'Closed')], default='draft', max_length=10)),
                ('washout_days', models.PositiveIntegerField(default=28)),
                ('randomisation_seed', models.PositiveIntegerField(default=readerstudy.models.studies.new_randomisation_seed)),
                ('is_free_form', models.BooleanField(default=False, help_text='Outside the crossover design: admins assign case sets to readers under chosen arms.')),
                ('is_dry_run', models.BooleanField(default=False, help_text='A rehearsal: only it accepts simulated reads (simulate_reads). Set at creation.')),
                ('design_version', models.CharField(blank=True, help_text='The design algorithm that made the sessions (empty: not designed).', max_length=40)),
                ('blank_truth', models.CharField(choices=[('negative', "Negative (as CheXpert's evaluation)"), ('unknown', 'Unknown (left out of scoring)')], default='negative', help_text='How a ground-truth label the labels file left blank scores, for readers and the AI alike.', max_length=10)),
                ('primary_endpoint', models.CharField(choices=[('time', 'Reading time'), ('jaccard', 'Accuracy (mean Jaccard)'), ('sensitivity', 'Sensitivity for abnormal studies'), ('specificity', 'Specificity for normal studies'), ('auc', 'AUC for abnormal vs normal (needs the abnormality question)'), ('confidence', 'Confidence rating')], default='time', help_text='The declared primary comparison: its endpoint. Every other comparison is adjusted (Holm).', max_length=20)),
                ('primary_arm', models.CharField(choices=[('UNAIDED', 'Unaided'), ('LABELS_ONLY', 'AI labels only'), ('FULL_REASONING', 'Full AI reasoning')], default='FULL_REASONING', help_text='The declared primary comparison: this arm …', max_length=20)),
                ('primary_versus', models.CharField(choices=[('UNAIDED', 'Unaided'), ('LABELS_ONLY', 'AI labels only'), ('FULL_REASONING', 'Full AI reasoning')], default='UNAIDED', help_text='… against this one.', max_length=20)),
                ('asks_abnormality', models.BooleanField(default=False, help_text='Ask readers in every arm for the probability (0–100) that the radiograph is abnormal, for an MRMC AUC. Set at creation.')),
                ('idle_threshold_s', models.PositiveIntegerField(default=60, help_text='An input-free gap longer than this is idle, not reading time.')),
                ('created_at', models.DateTimeField(blank=True, editable=False)),
                ('opened_at', models.DateTimeField(blank=True, null=True)),
                ('closed_at', models.DateTimeField(blank=True, null=True)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
            ],
            options={
                'verbose_name': 'historical study',
                'verbose_name_plural': 'historical studies',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='HistoricalStudyQuestion',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('key', models.SlugField(help_text='Column name in exports.')),
                ('text', models.CharField(max_length=300)),
                ('scale_min', models.SmallIntegerField(default=1)),
                ('scale_max', models.SmallIntegerField(default=5)),
                ('min_anchor', models.CharField(max_length=80)),
                ('max_anchor', models.CharField(max_length=80)),
                ('arms', models.JSONField(default=readerstudy.models.studies.all_arms, validators=[readerstudy.models.studies.validate_arms])),
                ('required', models.BooleanField(default=True)),
                ('order', models.PositiveSmallIntegerField(default=0)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
            ],
            options={
                'verbose_name': 'historical study question',
                'verbose_name_plural': 'historical study questions',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='HistoricalStudyReader',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('reader_code', models.CharField(help_text='Pseudonym used in exports.', max_length=16)),
                ('design_row', models.PositiveSmallIntegerField(blank=True, help_text="The reader's row in the crossover design (0 for the first reader).", null=True)),
                ('years_experience', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('subspecialty', models.CharField(blank=True, max_length=100)),
                ('board_certified', models.BooleanField(default=False)),
                ('joined_at', models.DateTimeField(blank=True, editable=False)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
            ],
            options={
                'verbose_name': 'historical study reader',
                'verbose_name_plural': 'historical study readers',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.RemoveConstraint(
            model_name='auditentry',
            name='auditentry_action_valid',
        ),
        migrations.AddField(
            model_name='auditentry',
            name='username',
            field=models.CharField(blank=True, help_text="The actor's username when it was written.", max_length=150),
        ),
        migrations.AlterField(
            model_name='auditentry',
            name='action',
            field=models.CharField(choices=[('opened', 'Study opened'), ('closed', 'Study closed'), ('readers_added', 'Readers added to the running study'), ('session_opened_early', 'Session opened before its washout ended'), ('exported', 'Data exported'), ('assignment_moved', 'Assignment moved to another reader'), ('assignment_revoked', 'Assignment revoked'), ('truth_corrected', 'Ground truth corrected')], max_length=30),
        ),
        migrations.AlterField(
            model_name='auditentry',
            name='user',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='audit_entries', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddConstraint(
            model_name='auditentry',
            constraint=models.CheckConstraint(condition=models.Q(('action__in', ['opened', 'closed', 'readers_added', 'session_opened_early', 'exported', 'assignment_moved', 'assignment_revoked', 'truth_corrected'])), name='auditentry_action_valid'),
        ),
        migrations.AddField(
            model_name='historicalassignment',
            name='case',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='readerstudy.case'),
        ),
        migrations.AddField(
            model_name='historicalassignment',
            name='history_user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicalassignment',
            name='reader',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicalassignment',
            name='session',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='readerstudy.readingsession'),
        ),
        migrations.AddField(
            model_name='historicalassignment',
            name='study',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='readerstudy.study'),
        ),
        migrations.AddField(
            model_name='historicalcase',
            name='history_user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicalcase',
            name='import_batch',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='readerstudy.importbatch'),
        ),
        migrations.AddField(
            model_name='historicalcaseset',
            name='history_user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicalcasesetmembership',
            name='case',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='readerstudy.case'),
        ),
        migrations.AddField(
            model_name='historicalcasesetmembership',
            name='case_set',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='readerstudy.caseset'),
        ),
        migrations.AddField(
            model_name='historicalcasesetmembership',
            name='history_user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicalgroundtruth',
            name='case',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='readerstudy.case'),
        ),
        migrations.AddField(
            model_name='historicalgroundtruth',
            name='history_user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicalgroundtruth',
            name='label',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='readerstudy.label'),
        ),
        migrations.AddField(
            model_name='historicalstudy',
            name='case_set',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='readerstudy.caseset'),
        ),
        migrations.AddField(
            model_name='historicalstudy',
            name='created_by',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicalstudy',
            name='history_user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicalstudy',
            name='practice_case_set',
            field=models.ForeignKey(blank=True, db_constraint=False, help_text="Optional: read first in each reader's first session, never analysed.", null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='readerstudy.caseset'),
        ),
        migrations.AddField(
            model_name='historicalstudyquestion',
            name='history_user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicalstudyquestion',
            name='study',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='readerstudy.study'),
        ),
        migrations.AddField(
            model_name='historicalstudyreader',
            name='history_user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicalstudyreader',
            name='study',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='readerstudy.study'),
        ),
        migrations.AddField(
            model_name='historicalstudyreader',
            name='user',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunPython(snapshot_usernames, migrations.RunPython.noop),
        migrations.RunPython(add_append_only_trigger, drop_append_only_trigger),
    ]
