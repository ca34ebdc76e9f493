from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TravelConfig(AppConfig):
    name = "fangyi.travel"
    label = "travel"
    verbose_name = _("来返人员与风险地区")
