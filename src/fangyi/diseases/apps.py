from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DiseasesConfig(AppConfig):
    name = "fangyi.diseases"
    verbose_name = _("传染病目录")
