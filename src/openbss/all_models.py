"""Import every context's models so metadata (and Alembic) sees all tables."""

from openbss.core import models as core_models  # noqa: F401
from openbss.core.db import Base

metadata = Base.metadata
