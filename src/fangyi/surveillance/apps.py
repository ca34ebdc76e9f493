from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SurveillanceConfig(AppConfig):
    name = "fangyi.surveillance"
    verbose_name = _("监测预警")
