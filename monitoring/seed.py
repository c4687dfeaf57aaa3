"""Reference data of monitoring: detector settings with defaults, monitoring
settings, and the three staff roles as Django groups.

``manage.py seed_reference_data`` calls ``seed_reference_data(stdout)``.
Detector rows that exist keep staff's values. Each role's permissions are set
to exactly the list below, so a re-run also takes back a permission that was
removed from the list.
"""

from django.contrib.auth.models import Group, Permission

from .models import MonitoringSettings
from .services import detector_settings_ensure

COMMITTEE = "Management committee"
LIAISON = "Commission liaison"
AUDITOR = "Auditor"

# Read access shared by every role: the records behind the flags. Agreements
# are not in it: their pages show the customer's full email address, which
# the committee and the auditors need and the Commission liaison does not.
_READ = [
    "affirmations.view_record",
    "affirmations.view_disclosure",
    "affirmations.view_holiday",
    "csp_registry.view_csp",
    "csp_registry.view_cspstatuschange",
    "csp_registry.view_apirequestlog",
    "data_access.view_dataaccesslog",
    "monitoring.view_premiseauthenticationattempt",
    "monitoring.view_redflag",
    "monitoring.view_flagaction",
    "monitoring.view_customerreport",
    "monitoring.view_commissiondirective",
    "monitoring.view_detectorsetting",
    "monitoring.view_monitoringsettings",
    "monitoring.view_dashboard",
]

# CSPs' webhook endpoints (never their secrets), deliveries and attempts; the
# liaison has no use for them.
_WEBHOOKS_READ = [
    "webhooks.view_webhookendpoint",
    "webhooks.view_webhookdelivery",
    "webhooks.view_webhookattempt",
]

# Which account proved which premise, and what happened to accounts: with the
# agreements (committee and auditors), not the liaison's business.
_ACCOUNTS_READ = ["accounts.view_premiselink", "accounts.view_accountevent"]

ROLE_PERMISSIONS = {
    # Runs the rules: reviews applications and red flags, suspends, reinstates
    # and revokes CSPs, issues and revokes their keys, sets the thresholds.
    COMMITTEE: [
        *_READ,
        "affirmations.view_agreement",
        *_ACCOUNTS_READ,
        "affirmations.export_record",
        "csp_registry.review_csp",
        "csp_registry.enforce_csp",
        "affirmations.revoke_agreement",
        "affirmations.manage_holiday",
        "affirmations.view_recordcheckpoint",
        "affirmations.seal_recordcheckpoint",
        "csp_registry.view_apikey",
        "csp_registry.issue_apikey",
        "csp_registry.revoke_apikey",
        "monitoring.review_redflag",
        "monitoring.enforce_redflag",
        "monitoring.change_detectorsetting",
        "monitoring.change_monitoringsettings",
        *_WEBHOOKS_READ,
        "webhooks.resend_webhookdelivery",
    ],
    # The Commission acts on a CSP only through a directive: the liaison records
    # it and carries it out; no direct CSP action, no flag decisions.
    LIAISON: [
        *_READ,
        "monitoring.add_commissiondirective",
        "monitoring.change_commissiondirective",
        "monitoring.carry_out_commissiondirective",
    ],
    # Read-only: the record and agreements it audits, flags, exports (a read).
    AUDITOR: [
        *_READ,
        "affirmations.view_agreement",
        *_ACCOUNTS_READ,
        "affirmations.export_record",
        "affirmations.view_recordcheckpoint",
        *_WEBHOOKS_READ,
    ],
}
# Nobody holds a permission by being staff: a staff user in no role sees nothing.
# The outbox (``outbox.retry_outboundemail``), reference data and disclosures are
# operators' work, granted to people one by one, not to a role.


def seed_reference_data(stdout):
    created = detector_settings_ensure()
    stdout.write(f"Detector settings: {created} created with defaults")
    existed = MonitoringSettings.objects.filter(pk=1).exists()
    MonitoringSettings.current()
    stdout.write(f"Monitoring settings: {'kept as they are' if existed else 'created'}")
    for name, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(_permissions(codenames))
        stdout.write(f"Role {name!r}: {len(codenames)} permissions")


def _permissions(dotted_names):
    wanted = {tuple(name.split(".", 1)) for name in dotted_names}
    found = [
        permission
        for permission in Permission.objects.select_related("content_type").filter(
            codename__in=[codename for _, codename in wanted]
        )
        if (permission.content_type.app_label, permission.codename) in wanted
    ]
    missing = wanted - {(p.content_type.app_label, p.codename) for p in found}
    if missing:
        # Permissions are created by migrate; a missing one is a typo here.
        raise LookupError(f"unknown permissions: {sorted(missing)}")
    return found
