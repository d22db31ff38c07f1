"""The generate pages."""

from __future__ import annotations

from tunix_rt.web.page import page_router

router = page_router()
