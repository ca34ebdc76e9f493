from django.shortcuts import render


def contact_list(request):
    return render(request, "tracing/contact_list.html", {})
