"""`/api/component-user-usage-limits/`: per-user limits of a resource's components (Waldur's route).

Visible to whoever sees the resource's usage (its provider and its consumer sides, staff, support);
written by staff and the holders of `RESOURCE.CONSUMPTION_LIMITATION` (services/user_limits.py).
"""
