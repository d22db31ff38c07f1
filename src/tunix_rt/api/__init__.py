"""The REST API: an app factory and one router per area, mapping HTTP onto the services.

Its modules (each imported by name; importing the package loads none of them):

- `app`: `create_app(settings)`, the FastAPI application factory
- `deps`: request dependencies (the engine, the settings, the executor)
- `errors`: domain errors -> HTTP (422 in FastAPI's shape, others as `{"detail": str}`)
- `middleware`: body-size and bearer-token guards, before FastAPI parses anything
- `responses`: response kinds several routers send (NDJSON streams, 204)
- `route`: the routers' route class (text holding NUL is refused with 422)
- `routers`: one router per area (traces, datasets, generators, tunix, runs, evaluations)
"""

__all__ = ["app", "deps", "errors", "middleware", "responses", "route", "routers"]
