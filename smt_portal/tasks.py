"""The portal's own periodic job: the worker's heartbeat."""

from celery import shared_task
from django.utils import timezone

from smt_portal.models import WorkerHeartbeat

# Who ran the job when no worker did: ``manage.py run_jobs`` applies it in
# process, which proves the database answers but says nothing of a worker.
IN_PROCESS = "in process (run_jobs)"


@shared_task(bind=True, name="smt_portal.tasks.record_worker_heartbeat")
def record_worker_heartbeat(self):
    """Beat queues it every minute; only a worker that still consumes runs it.
    Its age on /healthz is how long the worker has been gone."""
    ran_by = IN_PROCESS if self.request.is_eager else self.request.hostname or ""
    WorkerHeartbeat.record(now=timezone.now(), ran_by=ran_by)
