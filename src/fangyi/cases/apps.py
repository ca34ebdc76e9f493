from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "fangyi.cases"
    verbose_name = _("传染病报告")
