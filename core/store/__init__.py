"""The database behind small modules that speak domain types: ``posts`` (what the facade queues,
lists, cancels and moves), ``queue`` (what the scheduler claims, renews, checkpoints and records),
``teams`` (the team and user rows a chat context maps onto), ``accounts``, ``pauses``, ``buckets``
(rate limits shared by workers), ``heartbeats`` and ``wakeups``."""
