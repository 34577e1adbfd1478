"""The django-q2 Schedule row that runs autotls.tasks.renew hourly, so the worker that
runmail supervises obtains and renews certificates (a no-op while ACME is off)."""
from django.db import migrations

SCHEDULE_NAME = "autotls renew"


def add_schedule(apps, schema_editor):  # type: ignore[no-untyped-def]
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": "autotls.tasks.renew", "schedule_type": "I", "minutes": 60, "repeats": -1},
    )


def remove_schedule(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
