"""SMS voting over Africa's Talking (issue 17)."""
