"""doorkeep: self-hosted authentication in pure Python."""

from doorkeep.app import Doorkeep, FlowsConfig
from doorkeep.config import Settings

__all__ = ["Doorkeep", "FlowsConfig", "Settings"]
__version__ = "0.1.0"
