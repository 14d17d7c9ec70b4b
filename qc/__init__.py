"""Packing-station quality control: the domain core (no HTTP, no settings files)."""
