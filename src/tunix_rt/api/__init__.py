"""The REST API: an app factory and one router per area, mapping HTTP onto the services."""
