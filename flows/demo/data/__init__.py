"""Sites, stories and reprint edits of the demo network (a package so the YAML ships)."""
