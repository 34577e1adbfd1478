"""The django-q2 Schedule row that runs reports.tasks.send_tls_reports hourly: after
each UTC midnight it sends the previous day's TLS reports (once per domain and day)."""
from django.db import migrations

SCHEDULE_NAME = "reports send tls reports"


def add_schedule(apps, schema_editor):  # type: ignore[no-untyped-def]
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": "reports.tasks.send_tls_reports", "schedule_type": "I", "minutes": 60, "repeats": -1},
    )


def remove_schedule(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0002_outgoing_tls_reports"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
