"""The portal's own state: the worker's heartbeat."""

from django.db import IntegrityError, models, transaction
from django.db.models import Q


class WorkerHeartbeat(models.Model):
    """When a Celery worker last ran the heartbeat job: one row, kept in the
    database so that its age survives a Redis restart and /healthz can tell a
    worker that stopped consuming from one that is merely idle."""

    SINGLETON = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON, editable=False)
    beat_at = models.DateTimeField()
    # The worker's node name (``celery@host``), or who ran it in process.
    ran_by = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="smt_portal_heartbeat_single_row")
        ]

    def __str__(self):
        return f"worker heartbeat at {self.beat_at.isoformat()}"

    @classmethod
    def record(cls, *, now, ran_by=""):
        """Move the heartbeat to ``now``, only forward: with two workers whose
        clocks differ, the later time stands whatever order they write in."""
        moved = cls.objects.filter(pk=cls.SINGLETON, beat_at__lt=now).update(
            beat_at=now, ran_by=ran_by
        )
        if moved:
            return
        try:
            with transaction.atomic():
                cls.objects.get_or_create(
                    pk=cls.SINGLETON, defaults={"beat_at": now, "ran_by": ran_by}
                )
        except IntegrityError:  # another worker created the row between the two statements
            pass

    @classmethod
    def last(cls):
        """The heartbeat row, or None before any worker has run the job: one query."""
        return cls.objects.filter(pk=cls.SINGLETON).first()
