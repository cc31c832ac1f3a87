"""kenolib: the Kenotronix support policy as data, ticket cross-reference and reports."""

from kenolib.errors import KenolibError

__version__ = "0.1.0"
__all__ = ["KenolibError", "__version__"]
