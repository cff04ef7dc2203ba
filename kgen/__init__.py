"""kgen: page-allocator free-path scenarios as KUnit tests on real kernels."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kgen")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+src"
