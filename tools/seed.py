"""A deterministic demo CRM: fixed demo personas plus generated customers over every segment.

`python -m tools.seed` (run by `make demo`) brings the database schema up to date and writes the same
customers every time; re-running replaces them, so the seed is idempotent.
"""

from __future__ import annotations

import itertools
import random
import sys
from datetime import datetime, timedelta
from typing import List

from common.crm import Customer, CustomerRepository
from common.database import migrate
from common.names import (
    AGE_BANDS,
    DEMO_PERSONAS,
    LANGUAGES,
    REGIONS,
    Channel,
    Engagement,
    JourneyStage,
    Tier,
)
from common.settings import VAR_DIR, load_settings

SEED = 20261123
# Seeding dates are relative to a fixed day so the data is the same whenever it is generated.
REFERENCE_DAY = datetime(2026, 11, 1, 12, 0, 0)

STORED_TIERS = [Tier.FREE, Tier.STANDARD, Tier.PREMIUM, Tier.VIP]
STORED_STAGES = [s for s in JourneyStage if s is not JourneyStage.UNKNOWN]
# Typical lifetime value range per tier, EUR.
LTV_RANGE = {
    Tier.FREE: (0, 150),
    Tier.STANDARD: (100, 1500),
    Tier.PREMIUM: (800, 6000),
    Tier.VIP: (5000, 40000),
}


def demo_personas() -> List[Customer]:
    day = REFERENCE_DAY
    return [
        Customer(
            "demo-vip",
            "Victoria Ashford",
            Tier.VIP,
            JourneyStage.ACTIVE,
            28450.0,
            36000.0,
            day - timedelta(days=3),
            5,
            10,
            Engagement.HIGH,
            1,
            Channel.CHAT,
            "uk_ireland",
            "en",
            "45-54",
        ),
        Customer(
            "demo-standard",
            "Sam Carter",
            Tier.STANDARD,
            JourneyStage.ACTIVE,
            640.0,
            900.0,
            day - timedelta(days=21),
            4,
            8,
            Engagement.MEDIUM,
            0,
            Channel.CHAT,
            "north_america",
            "en",
            "35-44",
        ),
        Customer(
            "demo-free",
            "Frankie Lee",
            Tier.FREE,
            JourneyStage.ACTIVE,
            35.0,
            120.0,
            day - timedelta(days=60),
            None,
            7,
            Engagement.LOW,
            0,
            Channel.CHAT,
            "europe",
            "en",
            "18-24",
        ),
        Customer(
            "demo-churn-risk",
            "Priya Raman",
            Tier.PREMIUM,
            JourneyStage.AT_RISK,
            4200.0,
            5200.0,
            day - timedelta(days=95),
            2,
            5,
            Engagement.LOW,
            4,
            Channel.PHONE,
            "europe",
            "en",
            "25-34",
        ),
        Customer(
            "demo-buyer",
            "Ben Okafor",
            Tier.FREE,
            JourneyStage.BUYING,
            0.0,
            2400.0,
            None,
            None,
            None,
            Engagement.HIGH,
            1,
            Channel.CHAT,
            "north_america",
            "en",
            "25-34",
        ),
        Customer(
            "demo-detractor",
            "Dana Kowalski",
            Tier.STANDARD,
            JourneyStage.ACTIVE,
            980.0,
            1100.0,
            day - timedelta(days=12),
            1,
            2,
            Engagement.MEDIUM,
            3,
            Channel.CHAT,
            "north_america",
            "en",
            "55-64",
        ),
    ]


def generated_customers(count: int, seed: int = SEED) -> List[Customer]:
    """`count` customers; every (tier, journey stage) pair appears when count >= 20."""
    rng = random.Random(seed)
    first = [
        "Alex",
        "Maria",
        "Jonas",
        "Aisha",
        "Tom",
        "Lena",
        "Carlos",
        "Mei",
        "Oliver",
        "Fatima",
        "Noah",
        "Sofia",
        "Liam",
        "Chloe",
        "Ravi",
        "Emma",
        "Hugo",
        "Nina",
        "Omar",
        "Julia",
    ]
    last = [
        "Smith",
        "Müller",
        "Garcia",
        "Chen",
        "Brown",
        "Dubois",
        "Rossi",
        "Nowak",
        "Jansen",
        "Silva",
        "Khan",
        "Novak",
        "Murphy",
        "Tanaka",
        "Ivanova",
        "Berg",
    ]
    segments = itertools.cycle(itertools.product(STORED_TIERS, STORED_STAGES))
    customers = []
    for index in range(count):
        tier, stage = next(segments)
        low, high = LTV_RANGE[tier]
        ltv = 0.0 if stage is JourneyStage.BUYING else round(rng.uniform(low, high), 2)
        potential = round(ltv * rng.uniform(0.8, 2.0) + rng.uniform(0, high / 4), 2)
        rated = rng.random() < 0.7
        # Churn risk and lapsed customers skew towards low satisfaction.
        unhappy = stage in (JourneyStage.AT_RISK, JourneyStage.LAPSED)
        csat = rng.choice([1, 2, 2, 3, 3, 4] if unhappy else [2, 3, 4, 4, 5, 5]) if rated else None
        nps = rng.choice(range(0, 8) if unhappy else range(4, 11)) if rng.random() < 0.6 else None
        last_purchase = (
            None
            if stage is JourneyStage.BUYING
            else REFERENCE_DAY - timedelta(days=rng.randint(1, 400 if stage is JourneyStage.LAPSED else 120))
        )
        customers.append(
            Customer(
                customer_id=f"cust-{index + 1:04d}",
                name=f"{rng.choice(first)} {rng.choice(last)}",
                tier=tier,
                journey_stage=stage,
                lifetime_value=ltv,
                potential_value=potential,
                last_purchase_at=last_purchase,
                last_csat=csat,
                nps=nps,
                engagement=rng.choice(list(Engagement)),
                support_contacts_30d=rng.choice([0, 0, 0, 1, 1, 2, 3, 5]),
                preferred_channel=Channel.PHONE if rng.random() < 0.2 else Channel.CHAT,
                region=rng.choice(REGIONS),
                language=rng.choice(LANGUAGES),
                age_band=rng.choice(AGE_BANDS),
            )
        )
    return customers


def seed_customers(repository: CustomerRepository, count: int) -> int:
    personas = demo_personas()
    assert {p.customer_id for p in personas} == set(DEMO_PERSONAS)
    return repository.save_all(personas + generated_customers(count))


def main() -> None:
    settings = load_settings()
    VAR_DIR.mkdir(exist_ok=True)
    migrate(settings.customer_db_url)
    repository = CustomerRepository.from_url(settings.customer_db_url)
    written = seed_customers(repository, settings.seed_customer_count)
    print(f"==> Seeded {written} customers ({len(DEMO_PERSONAS)} demo personas)", file=sys.stderr)


if __name__ == "__main__":
    main()
