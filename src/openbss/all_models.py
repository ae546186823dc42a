"""Import every context's models so metadata (and Alembic) sees all tables."""

from openbss.billing import models as billing_models  # noqa: F401
from openbss.catalog import models as catalog_models  # noqa: F401
from openbss.core import models as core_models  # noqa: F401
from openbss.core.db import Base
from openbss.ledger import models as ledger_models  # noqa: F401
from openbss.ordering import models as ordering_models  # noqa: F401
from openbss.party import models as party_models  # noqa: F401
from openbss.payments import models as payments_models  # noqa: F401
from openbss.rating import models as rating_models  # noqa: F401
from openbss.usage import models as usage_models  # noqa: F401

metadata = Base.metadata
