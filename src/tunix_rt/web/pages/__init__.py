"""One module per area of the UI, each with its `router` of pages."""

from tunix_rt.web.pages import (
    compare,
    dashboard,
    datasets,
    evaluations,
    generate,
    login,
    runs,
    traces,
    tunix,
    upload,
)

ROUTERS = (
    login.router,
    dashboard.router,
    traces.router,
    upload.router,
    compare.router,
    generate.router,
    datasets.router,
    tunix.router,
    runs.router,
    evaluations.router,
)

__all__ = ["ROUTERS"]
