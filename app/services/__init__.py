"""Business logic: plain arguments in, models or values out (no request, no session)."""
