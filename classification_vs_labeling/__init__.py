__version__ = "0.1.0"

# Written by hand: nbdev only keeps `__version__` above up to date (`put_version_in_init`) and leaves the rest alone.

# Two deprecation notices that importing fastai prints with current torch and pandas, about fastai's own code: a
# reader of the course can do nothing about them, so they must not show in red in every chapter. Matched by their
# exact text, so every other warning still shows.
import warnings as _warnings
_warnings.filterwarnings('ignore', message=r'`torch\.jit\.script` is deprecated', category=FutureWarning)
_warnings.filterwarnings('ignore', message=r"The 'mode\.chained_assignment' option is deprecated")

# The main functions and classes, importable from the package itself (`from classification_vs_labeling import
# ExactMatch`). Each is loaded from its module when first asked for (PEP 562's module `__getattr__`), so that
# `import classification_vs_labeling` stays quick and loads neither fastai nor torch. tests/test_package.py checks
# that every name resolves to the object its module defines.
_EXPORTS = {
    'learners': ('ExactMatch', 'LabelerInterpretation', 'PairInterpretation'),
    'spec': ('RunSpec',),
    'train': ('paired_learner', 'plain_learners', 'train_pair', 'predict_pair'),
    'predictions': ('Predictions',),
    'datasets': ('load_set',),
    'data': ('folder_set', 'matched_dls'),
    'core': ('softmax_probs', 'sigmoid_probs', 'check_logits'),
    'metrics': ('accuracy_summary', 'exact_match', 'paired_bootstrap', 'gap_decomposition'),
    'thresholds': ('threshold_sweep', 'best_threshold', 'tune_split'),
    'calibration': ('error_table', 'ece', 'plot_reliability', 'fit_temperature', 'fit_bce_temperature'),
    'ood': ('msp', 'max_sigmoid', 'energy', 'ood_auroc', 'fpr_at_tpr', 'ood_summary', 'matched_refusal'),
    'conformal': ('fit_conformal', 'conformal_sets', 'conformal_summary'),
    'report': ('compare', 'compare_predictions'),
}
_WHERE = {name: mod for mod, names in _EXPORTS.items() for name in names}
__all__ = list(_WHERE)

def __getattr__(name):
    if name not in _WHERE: raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    obj = getattr(importlib.import_module(f'.{_WHERE[name]}', __name__), name)
    globals()[name] = obj
    return obj

def __dir__(): return sorted(set(globals()) | set(_WHERE))


# `help(...)` shows the parameter notes that nbdev's `show_doc` shows: when a module of this package has been imported,
# `paramdocs.document_params` appends each public function's docments (the comment beside each parameter) to its docstring.
# Functions defined in a notebook, which the docs site renders, are left as they are.
class _ParamDocs:
    "Import hook (a `sys.meta_path` finder): documents the parameters of each module of this package once it has run."
    def find_spec(self, fullname, path, target=None):
        if not fullname.startswith(__name__ + '.') or fullname.endswith('._modidx'): return None
        from importlib.machinery import PathFinder
        spec = PathFinder.find_spec(fullname, path)
        if spec is None or not hasattr(spec.loader, 'exec_module'): return spec
        run = spec.loader.exec_module
        def exec_module(module):
            run(module)
            try:
                from .paramdocs import document_params
                document_params(module)
            except Exception as e:   # a help() nicety must never stop an import: say so instead
                _warnings.warn(f"{module.__name__}: parameter notes not added for help() ({type(e).__name__}: {e})", RuntimeWarning)
        spec.loader.exec_module = exec_module
        return spec

import sys as _sys
if not any(type(f).__name__ == '_ParamDocs' for f in _sys.meta_path): _sys.meta_path.insert(0, _ParamDocs())
