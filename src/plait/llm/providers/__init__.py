"""Hosted and self-hosted model providers (one module each)."""
