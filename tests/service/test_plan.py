"""The per-operation plan compiled from the contract: pure rules, no server."""

from __future__ import annotations

import copy

import pytest

from service.contract import Contract
from service.plan import Plans

CONTRACT = Contract.load()


@pytest.fixture(scope="module")
def plans() -> Plans:
    return Plans(CONTRACT)


def test_every_operation_has_one_plan_under_connexions_name(plans):
    assert {plan.operation_id for plan in plans} == set(CONTRACT.operations)
    plan = plans.of("handlers.posts.list_posts")
    assert plan is not None
    assert (plan.operation_id, plan.method, plan.route) == ("list_posts", "GET", "/api/posts")
    assert plans.of("handlers.posts.nothing") is None
    assert plans.of(None) is None


def test_authentication_is_read_from_each_operations_security(plans):
    assert plans["get_me"].authentication == "required"
    assert plans["list_posts"].authentication == "optional"  # the document's default
    assert plans["get_health"].authentication == "none"
    assert plans["create_token"].authentication == "none"


def test_rate_limits_default_exempt_by_address_and_scaled(plans):
    assert str(plans["list_posts"].rate_limit) == "120 per 1 minute"
    assert plans["get_health"].rate_limit is None
    assert plans["create_user"].rate_limit_by_address
    assert not plans["list_posts"].rate_limit_by_address
    scaled = Plans(CONTRACT, rate_limit_scale=3)
    assert scaled["list_posts"].rate_limit is not None
    assert scaled["list_posts"].rate_limit.amount == 360
    assert scaled.auth_failures.amount == 3 * plans.auth_failures.amount


def test_media_types_and_what_an_operation_waits_on(plans):
    assert plans["update_post"].media_types == ("application/merge-patch+json",)
    assert plans["list_posts"].media_types == ()
    assert plans["get_health"].waits_on_dependencies is False
    assert plans["list_posts"].waits_on_dependencies is True
    assert plans["get_dashboard"].calls_upstreams is True
    assert plans["list_posts"].calls_upstreams is False


def test_policies_carry_roles_relations_and_field_defaults(plans):
    assert plans["list_posts"].policy.controller == "handlers.posts"
    assert plans["update_user"].policy.allow == frozenset({"self", "admin"})
    assert not plans["update_user"].policy.is_open
    assert plans["create_user"].policy.field_defaults["role"] == "user"
    assert plans["get_health"].policy.is_open


def test_a_changed_contract_changes_the_plan():
    document = copy.deepcopy(CONTRACT.document)
    document["paths"]["/posts"]["get"]["x-rate-limit"] = "none"
    document["paths"]["/posts"]["get"]["security"] = [{"bearerAuth": []}]
    plans = Plans(Contract(document))
    assert plans["list_posts"].rate_limit is None
    assert plans["list_posts"].authentication == "required"
