from django.contrib import admin

from fangyi.people.models import KeyGroup


@admin.register(KeyGroup)
class KeyGroupAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]


# Persons are edited on the pages, where scope, validation, masking and audit apply; the
# admin site does not offer a second, unaudited way in.
