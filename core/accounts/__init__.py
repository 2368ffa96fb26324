"""Linked platform accounts: storing their tokens, keeping them fresh, linking and unlinking."""
