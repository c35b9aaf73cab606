__version__ = "0.1.0"

# Two deprecation notices that importing fastai prints with current torch and pandas, about fastai's own code: a
# reader of the course can do nothing about them, so they must not show in red in every chapter. Matched by their
# exact text, so every other warning still shows.
import warnings as _warnings
_warnings.filterwarnings('ignore', message=r'`torch\.jit\.script` is deprecated', category=FutureWarning)
_warnings.filterwarnings('ignore', message=r"The 'mode\.chained_assignment' option is deprecated")
