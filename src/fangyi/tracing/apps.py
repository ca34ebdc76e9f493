from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TracingConfig(AppConfig):
    name = "fangyi.tracing"
    verbose_name = _("流调与密接")
