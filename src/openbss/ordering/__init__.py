"""Ordering context: quotes (TMF648), product orders (TMF622), product inventory (TMF637)."""
