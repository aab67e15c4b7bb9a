"""phonotheque: build a fully open, mirrorable music preservation archive."""

from phonotheque.errors import PhonothequeError

__version__ = "0.1.0"
__all__ = ["PhonothequeError", "__version__"]
