"""Tests of the live app: pilot, screen snapshots, watcher, alerts, tmux end to end."""
