"""Who did something, said one way everywhere: the record, the status history, events.

An ``Actor`` is passed (keyword ``actor``) to every service that changes a
state someone may later ask about; the record stores its type, label, IP
address and browser.
"""

from dataclasses import dataclass, field

from django.db import models


class ActorType(models.TextChoices):
    CSP = "csp", "CSP"
    CUSTOMER = "customer", "Customer"
    STAFF = "staff", "Staff user"
    COMMISSION = "commission", "Commission"
    SYSTEM = "system", "System"


@dataclass(frozen=True)
class Actor:
    """Who did something: a type and a label a person can read."""

    type: str
    label: str = ""
    ip: str | None = None
    user_agent: str = ""
    # The staff user behind a staff (or Commission-entered) action, for the
    # tables that keep a foreign key to who decided; not part of equality.
    user: object = field(default=None, compare=False, repr=False)

    @classmethod
    def system(cls, label="scheduler"):
        return cls(ActorType.SYSTEM, label)

    @classmethod
    def staff(cls, user, *, ip=None, user_agent=""):
        return cls(ActorType.STAFF, user.get_username() if user else "", ip, user_agent, user)

    @classmethod
    def commission(cls, label, *, entered_by=None):
        """The Commission, whose directive a staff member (``entered_by``) carries out."""
        return cls(ActorType.COMMISSION, label, user=entered_by)

    @classmethod
    def csp(cls, csp, *, key_prefix="", ip=None, user_agent=""):
        label = f"{csp.pk}:{key_prefix}" if key_prefix else str(csp.pk)
        return cls(ActorType.CSP, label, ip, user_agent)

    @classmethod
    def csp_user(cls, csp, user, *, ip=None, user_agent=""):
        """A person signed in to the CSP's web portal (/csp/), acting for ``csp``."""
        return cls(ActorType.CSP, f"{csp.pk}:user:{user.pk}", ip, user_agent[:500], user)

    @classmethod
    def customer(cls, *, ip=None, user_agent="", label="customer"):
        return cls(ActorType.CUSTOMER, label, ip, user_agent[:500])
