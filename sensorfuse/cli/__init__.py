"""Command-line entry points (``fuse-*``). Thin: argument parsing, progress and printing only."""
