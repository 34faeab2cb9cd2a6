"""USSD voting over Africa's Talking."""
