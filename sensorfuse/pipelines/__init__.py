"""Whole-log jobs that combine readers/writers (``io``) with format-free logic (``fusion``): the bodies of the
``fuse-*`` commands, callable from Python."""
