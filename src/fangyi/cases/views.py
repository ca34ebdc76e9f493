from django.shortcuts import render


def case_list(request):
    return render(request, "cases/case_list.html", {})
