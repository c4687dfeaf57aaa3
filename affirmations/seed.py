"""Reference data of agreements: the first version of the disclosures.

Called by ``manage.py seed_reference_data``. A version is never edited once
published (customers may have acknowledged it), so this only creates version 1
when no version exists; staff publish later versions in the admin.
"""

from django.utils import timezone

from .models import Disclosure

TEXT_EN = "\n".join(
    [
        (
            "What you share: the 15-minute interval usage, daily usage and monthly usage recorded"
            " by the smart meter of each premise listed, for the term shown, and nothing else (no"
            " payment or account details)."
        ),
        ("Who receives it: only the provider named on this page, for the use it states."),
        (
            "Your choice: sharing starts only if you agree on this page. If you ignore the email "
            "or decline, nothing is shared."
        ),
        (
            'Ending it: you may end sharing at any time, at once, with the "Stop sharing" link '
            "in the receipt this portal emails you, or by contacting the provider; no new data "
            "reaches the provider from that moment."
        ),
        (
            "Records: the portal keeps a record of your decision (time, IP address, browser, and "
            "this disclosure's version) for regulators."
        ),
    ]
)

TEXT_ES = "\n".join(
    [
        (
            "Lo que comparte: el consumo en intervalos de 15 minutos, el consumo diario y el "
            "consumo mensual registrados por el medidor inteligente de cada inmueble indicado, "
            "durante el plazo mostrado, y nada más (ningún dato de pago ni de cuenta)."
        ),
        ("Quién lo recibe: solo el proveedor nombrado en esta página, para el uso que declara."),
        (
            "Su decisión: el intercambio empieza solo si usted acepta en esta página. Si ignora "
            "el correo o lo rechaza, no se comparte nada."
        ),
        (
            "Cómo terminarlo: puede terminar el intercambio en cualquier momento, de inmediato, "
            'con el enlace "Dejar de compartir" del recibo que este portal le envía, o '
            "comunicándose con el proveedor; el proveedor no recibe datos nuevos desde ese "
            "momento."
        ),
        (
            "Registro: el portal guarda un registro de su decisión (hora, dirección IP, navegador"
            " y versión de este aviso) para los reguladores."
        ),
    ]
)


def seed_reference_data(stdout):
    if Disclosure.objects.exists():
        latest = Disclosure.objects.order_by("-version").first()
        stdout.write(f"Disclosures: kept as they are (latest v{latest.version})")
        return
    Disclosure.objects.create(
        version=1, text_en=TEXT_EN, text_es=TEXT_ES, published_at=timezone.now()
    )
    stdout.write("Disclosures: created version 1")
