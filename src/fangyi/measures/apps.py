from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MeasuresConfig(AppConfig):
    name = "fangyi.measures"
    verbose_name = _("隔离与健康监测")
