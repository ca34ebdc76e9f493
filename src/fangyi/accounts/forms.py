from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": _("用户名或密码不正确。连续输错多次后账号将被暂时锁定。"),
        "inactive": _("该账号已停用，请联系管理员。"),
    }


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("令牌名称"),
        max_length=64,
        error_messages={"required": _("请给令牌起个名字，例如“实验室对接”。")},
    )
