from pathlib import Path

import pytest

from common.crm import CustomerRepository
from common.names import DEMO_PERSONAS, JourneyStage, Tier
from tests.support.database import migrated_database
from tools.seed import STORED_STAGES, STORED_TIERS, demo_personas, generated_customers, seed_customers


@pytest.fixture
def repository(tmp_path: Path) -> CustomerRepository:
    return CustomerRepository(migrated_database(tmp_path / "crm.db"))


def test_seed_is_deterministic_and_covers_every_segment():
    first, second = generated_customers(240), generated_customers(240)
    assert first == second
    pairs = {(c.tier, c.journey_stage) for c in first}
    assert pairs == {(t, s) for t in STORED_TIERS for s in STORED_STAGES}
    assert len({c.customer_id for c in first}) == 240


def test_seed_writes_personas_and_is_idempotent(repository):
    assert seed_customers(repository, 240) == 246
    assert seed_customers(repository, 240) == 246
    assert sum(repository.count_by("tier").values()) == 246
    for customer_id in DEMO_PERSONAS:
        assert repository.get(customer_id) is not None


@pytest.mark.parametrize(
    "customer_id, tier, stage, check",
    [
        ("demo-vip", Tier.VIP, JourneyStage.ACTIVE, lambda c: c.lifetime_value > 10000),
        ("demo-standard", Tier.STANDARD, JourneyStage.ACTIVE, lambda c: c.last_csat >= 4),
        ("demo-free", Tier.FREE, JourneyStage.ACTIVE, lambda c: True),
        ("demo-churn-risk", Tier.PREMIUM, JourneyStage.AT_RISK, lambda c: True),
        ("demo-buyer", Tier.FREE, JourneyStage.BUYING, lambda c: c.potential_value > c.lifetime_value),
        ("demo-detractor", Tier.STANDARD, JourneyStage.ACTIVE, lambda c: c.last_csat == 1 and c.nps <= 6),
    ],
)
def test_demo_personas(repository, customer_id, tier, stage, check):
    seed_customers(repository, 0)
    customer = repository.get(customer_id)
    assert (customer.tier, customer.journey_stage) == (tier, stage)
    assert check(customer)


def test_round_trip_keeps_every_field(repository):
    persona = demo_personas()[0]
    repository.save_all([persona])
    assert repository.get(persona.customer_id) == persona
    assert repository.get("nobody") is None


def test_invalid_scores_are_refused():
    persona = demo_personas()[0]
    from dataclasses import replace

    with pytest.raises(ValueError):
        replace(persona, last_csat=6)
    with pytest.raises(ValueError):
        replace(persona, nps=11)
    with pytest.raises(ValueError):
        replace(persona, tier=Tier.ANONYMOUS)
