"""maa_core: the ROS-free base every maa package builds on.

One place each for the policy parameter layout (:mod:`maa_core.layout`), the weights file format and message
mapping (:mod:`maa_core.weights_io`, :mod:`maa_core.weights_codec`), behavior prompts (:mod:`maa_core.prompt`,
:mod:`maa_core.prompt_io`), config loading (:mod:`maa_core.config`), rotations (:mod:`maa_core.rotations`) and
atomic, pickle-free file writes (:mod:`maa_core.atomic_io`). It imports neither rclpy nor any other maa package.
"""
