from django.contrib import admin

from fangyi.core.admin import ScopedAdminMixin
from fangyi.geo.models import Organisation, Place, Region


@admin.register(Region)
class RegionAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "full_name", "level"]
    list_filter = ["level"]
    search_fields = ["code", "name"]
    raw_id_fields = ["parent"]


@admin.register(Organisation)
class OrganisationAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "type", "region"]
    list_filter = ["type"]
    search_fields = ["name"]
    raw_id_fields = ["region"]


@admin.register(Place)
class PlaceAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "type", "region", "address"]
    list_filter = ["type"]
    search_fields = ["name", "address"]
    raw_id_fields = ["region", "organisation"]
