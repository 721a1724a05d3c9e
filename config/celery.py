import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("optout")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each app keeps its tasks in tasks.py (registry, optout, disputes).
app.autodiscover_tasks()
