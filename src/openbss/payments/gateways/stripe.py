"""The Stripe gateway adapter (being written)."""
