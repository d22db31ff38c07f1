"""The web UI: server-rendered pages over the same services as the API and the CLI.

Pages are Jinja2 templates rendered on the server; forms are plain HTML posts that work without
JavaScript, and `static/app.js` only refreshes the parts of a page that change (run progress,
log tails). Charts are SVG drawn on the server (`charts`).
"""

from tunix_rt.web.site import install_web

__all__ = ["install_web"]
