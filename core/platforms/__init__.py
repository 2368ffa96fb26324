"""Everything about each platform postbot publishes to: one package per platform, one registry."""
