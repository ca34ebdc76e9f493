"""The surveillance module's API: signal sources (batch posting for pharmacies, clinics and
schools), signals and their response, detector runs, and the figures of the dashboards."""

from ninja import Router

from fangyi.surveillance import dashboard_api, signal_api, source_api

router = Router()
router.add_router("/", source_api.router)
router.add_router("/", signal_api.router)
router.add_router("/", dashboard_api.router)
