"""Networks, the colour contract and self-describing model files (no Qt here)."""

from models.errors import ColorizerError, ModelFileError
from models.modelfile import (
    LoadedGenerator,
    ModelInfo,
    default_model_path,
    load_generator,
    save_generator,
)
from models.networks import (
    DiscriminatorConfig,
    GeneratorConfig,
    PatchDiscriminator,
    UNetGenerator,
)

__all__ = [
    "ColorizerError",
    "DiscriminatorConfig",
    "GeneratorConfig",
    "LoadedGenerator",
    "ModelFileError",
    "ModelInfo",
    "PatchDiscriminator",
    "UNetGenerator",
    "default_model_path",
    "load_generator",
    "save_generator",
]
