"""doorkeep: self-hosted authentication in pure Python."""

from doorkeep.app import Doorkeep
from doorkeep.config import Settings

__all__ = ["Doorkeep", "Settings"]
__version__ = "0.1.0"
