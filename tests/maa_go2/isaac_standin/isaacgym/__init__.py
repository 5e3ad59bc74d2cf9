"""Stand-in ``isaacgym`` package (see ``tests/maa_go2/isaac_standin/__init__.py``)."""
STANDIN = True  #: lets tests assert they run against the stand-in, never a real install
