"""The database behind small modules that speak domain types: ``posts`` (what the facade queues,
lists, cancels and moves) and ``teams`` (the team and user rows a chat context maps onto)."""
