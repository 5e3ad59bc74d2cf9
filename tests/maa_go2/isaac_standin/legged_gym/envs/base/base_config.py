"""Stand-in ``legged_gym.envs.base.base_config``."""
import inspect


class BaseConfig:
    """Instantiating a config instantiates its nested classes, recursively (attributes become instances)."""

    def __init__(self) -> None:
        self.init_member_classes(self)

    @staticmethod
    def init_member_classes(obj) -> None:
        for key in dir(obj):
            if key == "__class__":
                continue
            value = getattr(obj, key)
            if inspect.isclass(value):
                instance = value()
                setattr(obj, key, instance)
                BaseConfig.init_member_classes(instance)
