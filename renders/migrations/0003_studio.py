# The studio page: favourites, notification settings and notices; and the indexes its history reads.
#
# The Render indexes are the studio's own (keyset pages on the id, newest first, of the visible renders of one
# project, optionally narrowed by status or author; on PostgreSQL a trigram index for the search in prompts).
# They are created in the database only: Render's Meta
# belongs to the pipeline, so the migration state leaves them out (makemigrations stays quiet about them).

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import DatabaseError, migrations, models, transaction


def create_prompt_search_index(apps, schema_editor):
    """PostgreSQL: a trigram index for the history's search in prompts (icontains is UPPER(prompt) LIKE '%...%',
    which no b-tree serves). The extension is a trusted one, but where it cannot be created the search still
    works, as a scan of the project's prompts. SQLite: nothing (the same scan)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError:
        return
    schema_editor.execute("CREATE INDEX IF NOT EXISTS render_prompt_trgm ON renders_render "
                          "USING gin (UPPER(prompt) gin_trgm_ops) WHERE deleted_at IS NULL")


def drop_prompt_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS render_prompt_trgm")


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('renders', '0002_review'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AddIndex(
                    model_name='render',
                    index=models.Index(fields=['project', '-id'], name='render_studio_page',
                                       condition=models.Q(('deleted_at__isnull', True))),
                ),
                migrations.AddIndex(
                    model_name='render',
                    index=models.Index(fields=['project', 'status', '-id'], name='render_studio_status',
                                       condition=models.Q(('deleted_at__isnull', True))),
                ),
                migrations.AddIndex(
                    model_name='render',
                    index=models.Index(fields=['project', 'author', '-id'], name='render_studio_author',
                                       condition=models.Q(('deleted_at__isnull', True))),
                ),
            ],
            state_operations=[],
        ),
        migrations.RunPython(create_prompt_search_index, drop_prompt_search_index, elidable=False),
        migrations.CreateModel(
            name='NotificationSettings',
            fields=[
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='notification_settings', serialize=False, to=settings.AUTH_USER_MODEL)),
                ('email_on_finish', models.BooleanField(default=False, help_text='Email me when one of my renders completes or fails.')),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.CreateModel(
            name='Favourite',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('render', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='favourites', to='renders.render')),
                ('user', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='favourite_renders', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('user', 'render'), name='favourite_once')],
            },
        ),
        migrations.CreateModel(
            name='Notice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('completed', 'Completed'), ('failed', 'Failed')], max_length=16)),
                ('message', models.TextField()),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('seen_at', models.DateTimeField(blank=True, null=True)),
                ('emailed_at', models.DateTimeField(blank=True, null=True)),
                ('render', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notices', to='renders.render')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='render_notices', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['created_at', 'id'],
                'indexes': [models.Index(condition=models.Q(('seen_at__isnull', True)), fields=['user', 'id'], name='notice_unseen')],
                'constraints': [models.UniqueConstraint(fields=('render', 'user', 'kind'), name='notice_once')],
            },
        ),
    ]
