"""Original stories, one YAML file per publisher (a package so the YAML ships)."""
