"""The ``tmf641`` provisioning adapter against a fake OSS on loopback: success, one item
failing, a slow OSS (timeout, then success on retry without a second order), a crash and
restart between the OSS's commit and its answer; requests validated against the official
TMF641 ``ServiceOrder_Create``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from openbss.ordering.provisioning import (
    ADAPTERS,
    Outcome,
    ProvisioningRequest,
    ProvisioningSettings,
    ProvisioningUnavailable,
    provisioner_for,
)
from openbss.ordering.tmf641 import Tmf641Provisioner
from ordering.fake_oss import FakeOss

SPEC = "TMF641-ServiceOrdering-v4.0.0.swagger.json"


@pytest.fixture
def oss() -> Iterator[FakeOss]:
    fake = FakeOss().start()
    yield fake
    fake.stop()


def adapter(oss: FakeOss, **settings: Any) -> Tmf641Provisioner:
    provisioner = provisioner_for(ProvisioningSettings.model_validate(
        {"adapter": "tmf641", "baseUrl": oss.base_url, "timeoutSeconds": 2,
         "pollSeconds": 7, **settings}))
    assert isinstance(provisioner, Tmf641Provisioner)
    return provisioner


def request(action: str = "add", *, external_id: str = "ord1-0-provision",
            previous_ref: str | None = None, spec: str = "off-mobile",
            msisdn: str = "+4915112345678") -> ProvisioningRequest:
    return ProvisioningRequest(
        tenant_id="t1", order_id="ord1", item_id="1", action=action,  # type: ignore[arg-type]
        external_id=external_id, previous_ref=previous_ref,
        product={"name": "Mobile M",
                 "productOffering": {"id": spec, "name": "Mobile M", "version": "1.0"},
                 "productCharacteristic": [{"name": "MSISDN", "value": msisdn},
                                           {"name": "dataGb", "value": 20,
                                            "valueType": "number"}],
                 "relatedParty": [{"id": "cust-1", "role": "customer",
                                   "@referredType": "Customer"}]})


def test_tmf641_is_a_registered_adapter():
    assert "tmf641" in ADAPTERS and "immediate" in ADAPTERS


def test_success_posts_a_valid_service_order_and_polls_to_completed(oss, tmf_schema):
    oss.steps_to_complete = 2
    provisioner = adapter(oss)
    first = provisioner.submit(request())
    assert first.outcome is Outcome.IN_PROGRESS
    assert first.external_state == "acknowledged" and first.retry_after == 7
    [sent] = oss.posted_orders()
    tmf_schema(SPEC, "ServiceOrder_Create", sent)
    assert sent["externalId"] == "ord1-0-provision"
    [item] = sent["serviceOrderItem"]
    assert item["action"] == "add" and item["service"]["state"] == "active"
    assert item["service"]["serviceSpecification"] == {
        "id": "off-mobile", "name": "Mobile M", "version": "1.0",
        "@referredType": "ServiceSpecification"}
    assert item["service"]["serviceCharacteristic"] == [
        {"name": "MSISDN", "value": "+4915112345678"},
        {"name": "dataGb", "value": 20, "valueType": "number"}]
    assert sent["relatedParty"] == [{"id": "cust-1", "role": "customer",
                                     "@referredType": "Customer"}]
    second = provisioner.poll(request(), first.external_ref)
    assert (second.outcome, second.external_state) == (Outcome.IN_PROGRESS, "inProgress")
    done = provisioner.poll(request(), first.external_ref)
    assert (done.outcome, done.external_state) == (Outcome.COMPLETED, "completed")
    assert done.external_ref == first.external_ref
    assert len(oss.orders) == 1


def test_a_resubmit_never_orders_twice(oss):
    provisioner = adapter(oss)
    one = provisioner.submit(request())
    two = provisioner.submit(request())
    assert one.outcome is two.outcome is Outcome.COMPLETED
    assert one.external_ref == two.external_ref
    assert len(oss.posted_orders()) == 1
    # another item is another order
    other = provisioner.submit(request(external_id="ord1-1-provision"))
    assert other.external_ref != one.external_ref and len(oss.orders) == 2


def test_failure_of_one_item_is_failed(oss):
    oss.fail_when = lambda item: item["service"]["serviceSpecification"]["id"] == "off-bad"
    provisioner = adapter(oss)
    good = provisioner.submit(request())
    bad = provisioner.submit(request(external_id="ord1-1-provision", spec="off-bad"))
    assert good.outcome is Outcome.COMPLETED
    assert (bad.outcome, bad.external_state) == (Outcome.FAILED, "failed")
    assert bad.details["serviceOrder"] == bad.external_ref


def test_partial_is_failed_with_the_items_states(oss):
    provisioner = adapter(oss)
    added = provisioner.submit(request())
    # the OSS's order for the add named two services; deleting one of them fails
    order = oss.orders[added.external_ref]
    order["serviceOrderItem"].append({"id": "2", "action": "add", "state": "completed",
                                      "service": {"id": "svc-second"}})
    oss.fail_when = lambda item: item["service"].get("id") == "svc-second"
    result = provisioner.submit(request("compensate", external_id="ord1-0-compensate",
                                        previous_ref=added.external_ref))
    assert (result.outcome, result.external_state) == (Outcome.FAILED, "partial")
    assert sorted((i["id"], i["state"]) for i in result.details["serviceOrderItem"]) == [
        ("1", "completed"), ("2", "failed")]


@pytest.mark.parametrize("state", ["failed", "rejected", "cancelled"])
def test_final_oss_states_are_failed(oss, state):
    oss.steps_to_complete = 3
    provisioner = adapter(oss)
    first = provisioner.submit(request())
    oss.set_state(first.external_ref, state)
    result = provisioner.poll(request(), first.external_ref)
    assert (result.outcome, result.external_state) == (Outcome.FAILED, state)


@pytest.mark.parametrize("state", ["pending", "held", "assessingCancellation"])
def test_other_states_are_in_progress_with_the_poll_interval(oss, state):
    oss.steps_to_complete = 3
    provisioner = adapter(oss, pollSeconds=11)
    first = provisioner.submit(request())
    oss.set_state(first.external_ref, state)
    result = provisioner.poll(request(), first.external_ref)
    assert (result.outcome, result.external_state, result.retry_after) == (
        Outcome.IN_PROGRESS, state, 11)


def test_compensation_deletes_what_the_earlier_order_provisioned(oss, tmf_schema):
    provisioner = adapter(oss)
    added = provisioner.submit(request())
    [service_id] = [i["service"]["id"] for i in oss.orders[added.external_ref][
        "serviceOrderItem"]]
    undo = provisioner.submit(request("compensate", external_id="ord1-0-compensate",
                                      previous_ref=added.external_ref))
    assert undo.outcome is Outcome.COMPLETED
    sent = oss.posted_orders()[-1]
    tmf_schema(SPEC, "ServiceOrder_Create", sent)
    [item] = sent["serviceOrderItem"]
    assert item["action"] == "delete" and item["service"]["id"] == service_id
    assert item["service"]["state"] == "terminated"
    assert sent["externalId"] == "ord1-0-compensate"


def test_compensating_an_order_the_oss_does_not_know_fails_without_a_post(oss):
    result = adapter(oss).submit(request("compensate", external_id="x-compensate",
                                         previous_ref="no-such-order"))
    assert result.outcome is Outcome.FAILED and "no-such-order" in result.message
    assert oss.posted_orders() == []


@pytest.mark.parametrize(("action", "tmf_action", "service_state"), [
    ("modify", "modify", None), ("suspend", "modify", "inactive"),
    ("resume", "modify", "active"), ("delete", "delete", "terminated")])
def test_change_actions_name_the_provisioned_service(oss, tmf_schema, action, tmf_action,
                                                     service_state):
    provisioner = adapter(oss)
    added = provisioner.submit(request())
    provisioner.submit(request(action, external_id=f"ord2-0-{action}",
                               previous_ref=added.external_ref))
    sent = oss.posted_orders()[-1]
    tmf_schema(SPEC, "ServiceOrder_Create", sent)
    [item] = sent["serviceOrderItem"]
    assert item["action"] == tmf_action and item["service"].get("state") == service_state
    assert item["service"]["id"] == oss.orders[added.external_ref][
        "serviceOrderItem"][0]["service"]["id"]


def test_slow_oss_times_out_then_the_retry_finds_the_order(oss):
    provisioner = adapter(oss, timeoutSeconds=0.3)
    oss.delay_next_posts, oss.delay_seconds = 1, 1.0
    started = time.monotonic()
    with pytest.raises(ProvisioningUnavailable, match="Timeout"):
        provisioner.submit(request())
    assert time.monotonic() - started < 0.9  # the timeout of the settings, not the OSS's
    time.sleep(0.8)  # the OSS finishes its slow POST meanwhile (it kept the order)
    retry = provisioner.submit(request())
    assert retry.outcome is Outcome.COMPLETED
    assert len(oss.posted_orders()) == 1 and len(oss.orders) == 1


def test_crash_and_restart_mid_order_never_provisions_twice(oss):
    provisioner = adapter(oss)
    oss.crash_after_accepting = True
    with pytest.raises(ProvisioningUnavailable):
        provisioner.submit(request())
    oss.wait_stopped()
    with pytest.raises(ProvisioningUnavailable, match="Connect"):
        provisioner.submit(request())  # the OSS is down: the worker retries later
    oss.start()  # back, with what it had committed
    result = provisioner.submit(request())
    assert result.outcome is Outcome.COMPLETED
    assert len(oss.posted_orders()) == 1 and len(oss.orders) == 1
    assert result.external_ref in oss.orders


def test_5xx_is_unavailable_and_4xx_is_a_final_refusal(oss):
    provisioner = adapter(oss)
    oss.server_errors = 1
    with pytest.raises(ProvisioningUnavailable, match="503"):
        provisioner.submit(request())
    assert oss.orders == {}
    oss.refuse_posts = 1
    refused = provisioner.submit(request())
    assert (refused.outcome, refused.external_state) == (Outcome.FAILED, "rejected")
    assert "400" in refused.message and refused.details == {"status": 400}
    assert oss.orders == {}


def test_an_oss_that_ignores_the_external_id_filter_is_not_misread(oss):
    provisioner = adapter(oss)
    provisioner.submit(request(external_id="someone-else"))
    original = FakeOss._handle

    def ignore_filter(self, handler, method):  # the list answers every order
        handler.path = handler.path.split("?")[0]
        return original(self, handler, method)

    oss._handle = ignore_filter.__get__(oss)
    result = provisioner.submit(request())
    assert result.outcome is Outcome.COMPLETED
    assert [o["externalId"] for o in oss.posted_orders()] == ["someone-else",
                                                              "ord1-0-provision"]


def test_a_lost_order_is_sent_again_when_polled(oss):
    oss.steps_to_complete = 3
    provisioner = adapter(oss)
    first = provisioner.submit(request())
    oss.orders.clear()  # the OSS lost it (restored from an old backup)
    again = provisioner.poll(request(), first.external_ref)
    assert again.external_ref != first.external_ref and len(oss.orders) == 1
    assert len(oss.posted_orders()) == 2


def test_unreachable_oss_is_unavailable():
    fake = FakeOss()  # never started: nothing listens on its port
    with pytest.raises(ProvisioningUnavailable):
        adapter(fake, timeoutSeconds=0.5).submit(request())
