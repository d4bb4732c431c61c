"""Models: ``create_model(name, **kwargs)``, ``list_models()``, ``convert_reference_state_dict(name, sd)``."""

from skelar.models.registry import (
    convert_reference_state_dict,
    create_model,
    get_model_entry,
    list_models,
    register_converter,
    register_model,
)

# importing a model module registers it
from skelar.models import sgn  # noqa: F401,E402
from skelar.models import ctrgcn  # noqa: F401,E402
from skelar.models.sf_head import SFHead, SFHeadFeatures  # noqa: F401,E402
from skelar.models import impsgn  # noqa: F401,E402
from skelar.models import ltscl  # noqa: F401,E402
from skelar.models import imdar  # noqa: F401,E402

__all__ = [
    "create_model",
    "list_models",
    "convert_reference_state_dict",
    "register_model",
    "register_converter",
    "get_model_entry",
]
