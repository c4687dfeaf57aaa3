"""How a customer's email address is shown to anyone but the customer."""


def mask_email(address: str) -> str:
    """``jane.doe@example.com`` → ``j***@example.com``.

    The first character and the domain stay, so a CSP can tell its requests
    apart; the rest of the local part is hidden whatever its length, so the
    mask does not reveal how long the address is.
    """
    local, at, domain = (address or "").rpartition("@")
    if not at or not local:
        return "***"
    return f"{local[0]}***@{domain}"
