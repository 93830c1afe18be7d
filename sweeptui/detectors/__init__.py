"""Streaming detectors: new points and run endings in, issues out."""
