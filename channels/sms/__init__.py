"""SMS voting over Africa's Talking."""
