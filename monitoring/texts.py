"""The words of the public monitoring pages, in English and Spanish.

Kept here rather than in gettext catalogues so the two pages are complete in
both languages on their own; ``texts(language)`` falls back to English.
"""

TEXTS = {
    "en": {
        "report_title": "Report a provider",
        "report_intro": (
            "Tell the portal's management committee about a Competitive Service Provider "
            "that sold, shared or altered your data, contacted you unwanted, or did "
            "something else that worries you. Every report is reviewed."
        ),
        "csp": "Provider",
        "csp_empty": "Choose a provider",
        "category": "What happened",
        "description": "Describe what happened",
        "description_help": "Dates, what you received, what was said. At most 5,000 characters.",
        "contact_email": "Your email (optional)",
        "contact_email_help": "Only if you want the committee to be able to contact you.",
        "esi_id": "ESI ID of your premise (optional)",
        "esi_id_help": "The number on your electricity bill, if the report concerns one premise.",
        "bot_check": "Confirm you are not a robot",
        "submit": "Send report",
        "errors": "Please correct the fields marked below.",
        "thanks_title": "Thank you — your report was received",
        "thanks_body": (
            "The management committee will review it. If you gave an email address, "
            "they may contact you for details."
        ),
        "limited_title": "Too many reports",
        "limited_body": "Too many reports came from your network. Please try again later.",
        "providers_title": "Registered providers",
        "providers_intro": (
            "Every Competitive Service Provider that has been allowed to request customers' "
            "smart-meter data, its current status, and reports the committee upheld."
        ),
        "col_provider": "Provider",
        "col_status": "Status",
        "col_since": "Since",
        "col_scope": "How it uses data",
        "col_upheld": "Upheld reports",
        "none": "No provider has been approved yet.",
        "report_link": "Report a provider",
        "other_language": ("es", "Español"),
        "categories": {
            "selling_sharing": "Selling or sharing my data",
            "altering": "Altering my data",
            "unwanted_contact": "Unwanted contact",
            "other": "Something else",
        },
        "statuses": {"active": "Active", "suspended": "Suspended", "revoked": "Revoked",
                     "pending_review": "Pending review"},
        "invalid_esi_id": "This is not a valid ESI ID.",
    },
    "es": {
        "report_title": "Denunciar a un proveedor",
        "report_intro": (
            "Informe al comité de administración del portal sobre un proveedor de servicios "
            "competitivos que vendió, compartió o alteró sus datos, lo contactó sin que usted "
            "lo deseara o hizo algo más que le preocupa. Se revisa cada denuncia."
        ),
        "csp": "Proveedor",
        "csp_empty": "Elija un proveedor",
        "category": "Qué ocurrió",
        "description": "Describa lo que ocurrió",
        "description_help": "Fechas, lo que recibió, lo que le dijeron. Máximo 5.000 caracteres.",
        "contact_email": "Su correo electrónico (opcional)",
        "contact_email_help": "Solo si desea que el comité pueda comunicarse con usted.",
        "esi_id": "ESI ID de su propiedad (opcional)",
        "esi_id_help": "El número en su factura de electricidad, si la denuncia es sobre una "
        "propiedad.",
        "bot_check": "Confirme que no es un robot",
        "submit": "Enviar denuncia",
        "errors": "Corrija los campos marcados a continuación.",
        "thanks_title": "Gracias: recibimos su denuncia",
        "thanks_body": (
            "El comité de administración la revisará. Si dio un correo electrónico, "
            "es posible que le escriban para pedirle detalles."
        ),
        "limited_title": "Demasiadas denuncias",
        "limited_body": "Llegaron demasiadas denuncias desde su red. Inténtelo más tarde.",
        "providers_title": "Proveedores registrados",
        "providers_intro": (
            "Cada proveedor de servicios competitivos autorizado a solicitar los datos del "
            "medidor inteligente de los clientes, su estado actual y las denuncias que el "
            "comité confirmó."
        ),
        "col_provider": "Proveedor",
        "col_status": "Estado",
        "col_since": "Desde",
        "col_scope": "Cómo usa los datos",
        "col_upheld": "Denuncias confirmadas",
        "none": "Todavía no se ha aprobado ningún proveedor.",
        "report_link": "Denunciar a un proveedor",
        "other_language": ("en", "English"),
        "categories": {
            "selling_sharing": "Venta o divulgación de mis datos",
            "altering": "Alteración de mis datos",
            "unwanted_contact": "Contacto no deseado",
            "other": "Otra cosa",
        },
        "statuses": {"active": "Activo", "suspended": "Suspendido", "revoked": "Revocado",
                     "pending_review": "En revisión"},
        "invalid_esi_id": "Este no es un ESI ID válido.",
    },
}  # fmt: skip


def texts(language):
    return TEXTS.get(language, TEXTS["en"])


# --- Words staff read in the admin (English only) ---------------------------------------------

# Names in a flag's evidence (figures, thresholds, sample columns) in words; names
# not listed here are spelled out by ``evidence_word``.
EVIDENCE_WORDS = {
    "id": "Row",
    "ip": "IP address",
    "csp_id": "CSP",
    "agreement_id": "Agreement",
    "agreement_ref": "Agreement",
    "esi_id": "ESI ID",
    "esi_ids": "ESI IDs tried",
    "block": "ESI IDs beginning",
    "created_at": "Time (Central)",
    "decided_at": "Decided (Central)",
    "start": "From",
    "end": "To",
    "sources": "Opt-ins per place",
    "network": "Network",
    "decisions": "Customer decisions",
    "premises": "Premises",
    "premises_count": "Premises",
    "residential_premises": "Residential premises",
    "addresses": "IP addresses",
    "from_api": "From an address the CSP's API calls came from",
    "from_ranges": "From the CSP's registered IP ranges",
    "shared_emails": "One email address in several requests",
    "own_domain": "Requests to addresses at the CSP's own domain",
    "own_domain_renewals": "Renewals sent to the CSP's own domain",
    "fast_opt_ins": "Fast opt-ins",
    "max_seconds": "Fast means within (seconds)",
    "per_csp": "Attempts by the CSP",
    "per_ip": "Attempts per IP address",
    "enumeration": "Neighbouring ESI IDs tried",
    "failure_ratio": "Failed",
    "failures": "Failures",
    "attempts": "Attempts",
    "outcomes": "Requests ended",
    "opted_in": "Opted in",
    "opted_out": "Opted out",
    "reported_spam": "Reported as spam",
    "timed_out": "Timed out",
    "opted_in_rate": "Opted in",
    "opted_out_rate": "Opted out",
    "reported_spam_rate": "Reported as spam",
    "timed_out_rate": "Timed out",
    "outside_calls": "Calls from outside the registered ranges",
    "forged_headers": "Calls with forged forwarding headers",
    "forwarded_header_untrusted": "Forged forwarding header",
    "trusted_proxy_count": "Trusted proxies configured",
    "served": "Data responses served",
    "refused": "Data requests refused",
    "agreements": "Agreements",
    "requests": "Requests",
    "largest": "Largest request (premises)",
    "renewals": "Renewals",
    "category": "Category",
    "has_contact_email": "Gave an email address",
    "source": "Sent from",
    "reports": "Reports",
    "report_ids": "Report numbers",
    "status_code": "HTTP status",
    "error_code": "Error",
    "failure_reason": "Failure",
    "intervals": "Intervals",
    "kind": "Kind",
    "event": "Event",
    "method": "Method",
    "path": "Path",
    "status": "Status",
    "customer_email": "Customer email",
    "api_lookback_days": "API calls looked back over (days)",
    "max_failure_ratio": "At most this share failed",
    "min_attempts_for_ratio": "Attempts before the failed share counts",
    "max_spam_rate": "At most this share reported as spam",
    "max_opt_out_rate": "At most this share opted out",
    "min_outcomes": "Requests ended before the shares count",
}

# Names whose values are fractions of one, shown as percentages.
FRACTION_SUFFIXES = ("_rate", "_ratio")

DETECTOR_WORDS = {"customer_report": "Customer report"}
_ABBREVIATIONS = {"ip": "IP address", "csp": "CSP", "esi": "ESI", "ids": "IDs", "id": "ID"}


def evidence_word(name):
    """``min_decisions_per_ip`` → "At least decisions per IP address"."""
    if name in EVIDENCE_WORDS:
        return EVIDENCE_WORDS[name]
    words = name.split("_")
    prefix = {"min": "At least", "max": "At most"}.get(words[0])
    if prefix:
        words = words[1:]
    spelled = " ".join(_ABBREVIATIONS.get(word, word) for word in words)
    if prefix:
        return f"{prefix} {spelled}"
    return spelled[:1].upper() + spelled[1:]


def is_fraction(name):
    """A share of one ("max_spam_rate"), not a count named after one
    ("min_attempts_for_ratio")."""
    return name.endswith(FRACTION_SUFFIXES) and not name.startswith("min_")
