"""The provisioning port: how an order item reaches the network side (OSS).

The orchestration (the worker, running :class:`~openbss.ordering.models.FulfilmentStep`
rows) hands each step to the tenant's adapter as a :class:`ProvisioningRequest` and stores
what comes back (:class:`ProvisioningResult`) on the step. Adapters are chosen per tenant
(settings group ``provisioning``, ``adapter``):

- ``immediate`` (default): the network is assumed to do what it is asked at once;
- ``tmf641``: a TMF641 ``serviceOrder`` sent to the tenant's OSS (``ordering.tmf641``).

Contract of an adapter:

- :meth:`Provisioner.submit` is idempotent by ``request.external_id``: the worker may call
  it again after a crash or a timeout, and the OSS must not act twice (TMF641
  ``externalId``);
- a result ``in_progress`` means "ask again later": the worker calls :meth:`poll` with the
  ``external_ref`` it got, after ``retry_after`` seconds (or when a notification arrives);
- ``failed`` is final for that step (the order's failure policy decides what follows);
  a transport error raises :class:`ProvisioningUnavailable` and the worker retries with
  backoff up to the tenant's ``maxAttempts``;
- ``compensate`` requests undo what an earlier ``add`` did (a compensating service order).

Adding an adapter is one module with a class implementing :class:`Provisioner` and one
line in :data:`ADAPTERS`. (The types live in ``ordering.provisioning_port`` and are
re-exported here, so an adapter module imports them without importing this registry.)
"""

from __future__ import annotations

from collections.abc import Callable

from openbss.ordering.provisioning_port import (
    Action,
    ImmediateProvisioner,
    Outcome,
    Provisioner,
    ProvisioningRequest,
    ProvisioningResult,
    ProvisioningSettings,
    ProvisioningUnavailable,
)
from openbss.ordering.tmf641 import Tmf641Provisioner

__all__ = [
    "ADAPTERS", "Action", "ImmediateProvisioner", "Outcome", "Provisioner",
    "ProvisioningRequest", "ProvisioningResult", "ProvisioningSettings",
    "ProvisioningUnavailable", "Tmf641Provisioner", "provisioner_for",
]

#: Adapter name -> factory taking the tenant's settings.
ADAPTERS: dict[str, Callable[[ProvisioningSettings], Provisioner]] = {
    "immediate": lambda settings: ImmediateProvisioner(),
    "tmf641": Tmf641Provisioner,
}


def provisioner_for(settings: ProvisioningSettings) -> Provisioner:
    return ADAPTERS[settings.adapter](settings)
