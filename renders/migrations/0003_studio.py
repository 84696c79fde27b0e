# The studio page: favourites, notification settings and notices; and the indexes its history reads.
#
# The Render indexes are the studio's own (keyset pages on the id, newest first, of the visible renders of one
# project, optionally narrowed by status or author). They are created in the database only: Render's Meta
# belongs to the pipeline, so the migration state leaves them out (makemigrations stays quiet about them).

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


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
