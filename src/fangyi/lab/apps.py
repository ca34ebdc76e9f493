from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LabConfig(AppConfig):
    name = "fangyi.lab"
    label = "lab"
    verbose_name = _("采样与核酸检测")
