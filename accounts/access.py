"""Who may open an account page: a signed-in customer (an account with a proven
email address). The one rule for every view of the app."""

from django.contrib.auth.decorators import login_required

# The customers' sign-in page (django-allauth's, at /account/login/).
CUSTOMER_LOGIN_URL = "/account/login/"


def customer_required(view):
    """Signed in, or sent to the sign-in page and back."""
    return login_required(view, login_url=CUSTOMER_LOGIN_URL)
