"""Hardware probing (side effects live here) for the plan."""
