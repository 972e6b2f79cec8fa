"""Renderings of plans and reports: text for people, JSON for machines."""
