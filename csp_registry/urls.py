from django.conf import settings
from django.urls import path

from . import views

urlpatterns = [
    path("register/", views.register, name="csp-register"),
    path("register/done/", views.register_done, name="csp-register-done"),
]

if settings.BENCH_FLOOR_ENDPOINT:
    from .api.views import BenchFloorView

    urlpatterns.append(path("bench-floor/", BenchFloorView.as_view(), name="csp-bench-floor"))
