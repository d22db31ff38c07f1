"""One router per area; each endpoint translates HTTP to one service call and back."""

__all__ = ["datasets", "evaluations", "generators", "health", "runs", "traces", "tunix"]
