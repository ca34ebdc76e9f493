from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from fangyi.accounts.forms import ApiTokenForm
from fangyi.accounts.models import ApiToken
from fangyi.accounts.services import create_api_token, revoke_api_token


def token_list(request):
    form = ApiTokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        _, new_token = create_api_token(
            request.user, form.cleaned_data["name"], created_by=request.user
        )
        form = ApiTokenForm()
    tokens = request.user.api_tokens.all()
    return render(
        request, "accounts/tokens.html", {"form": form, "tokens": tokens, "new_token": new_token}
    )


@require_POST
def token_revoke(request, pk: int):
    # A user revokes only their own tokens here; admins use the admin site.
    token = get_object_or_404(ApiToken, pk=pk, user=request.user, revoked_at__isnull=True)
    revoke_api_token(token)
    return redirect("token_list")
