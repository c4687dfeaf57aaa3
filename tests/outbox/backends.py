"""Email backends that fail the way SMTP servers do, for the outbox tests.

Set ``RefusingBackend.error`` to the exception the next sends should raise;
``None`` delivers to Django's locmem outbox like the test backend.
"""

from django.core.mail.backends.locmem import EmailBackend


class RefusingBackend(EmailBackend):
    error = None

    def send_messages(self, messages):
        if RefusingBackend.error is not None:
            raise RefusingBackend.error
        return super().send_messages(messages)
