"""Error types shared by the core packages (models, trainer, the engine)."""


class ColorizerError(Exception):
    """Base class of every error the colorizer reports to a user (one clear line)."""


class ModelFileError(ColorizerError):
    """A model file is missing, truncated, foreign or incompatible with this version."""
