"""The travel module's API: risk areas and flags, arrivals, canvassing and daily reports."""

from ninja import Router

from fangyi.travel import area_api, arrival_api, report_api

router = Router()
router.add_router("/", area_api.router)
router.add_router("/", arrival_api.router)
router.add_router("/", report_api.router)
