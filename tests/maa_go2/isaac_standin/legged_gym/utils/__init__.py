"""Stand-in ``legged_gym.utils``."""
from .helpers import class_to_dict, get_args, set_seed, update_class_from_dict
from .task_registry import task_registry

__all__ = ["class_to_dict", "get_args", "set_seed", "task_registry", "update_class_from_dict"]
