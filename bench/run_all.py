"""`make bench`: every benchmark, one after another; reports and charts land in bench/reports/."""

from bench import (
    analytics_summary,
    faq_heldout,
    latency,
    nlu_clinc,
    relay_latency,
    routing_simulation,
    scaled_load,
    security_probe,
    sentiment,
)
from bench.common import MissingBenchData

STEPS = (
    ("Held-out NLU accuracy of the bot", faq_heldout.main),
    ("CLINC150 intent + out-of-scope", nlu_clinc.main),
    ("Sentiment and dissatisfaction", sentiment.main),
    ("Turn latency and throughput vs the rasa init baseline", latency.main),
    ("Live relay latency between console and widget", relay_latency.main),
    ("make demo vs make demo-scaled with 1 and 2 Rasa replicas; relay across replicas", scaled_load.main),
    ("A simulated support day: FIFO vs the product's routing", routing_simulation.main),
    ("Security probe of the running product (attacks and faults)", security_probe.main),
    ("Analytics summary over 100,000 conversations", analytics_summary.main),
)


def main() -> None:
    for number, (title, run) in enumerate(STEPS, start=1):
        print(f"### {number}/{len(STEPS)} {title}", flush=True)
        try:
            run()
        except MissingBenchData as missing:  # the public data is not here: say so, go on with the rest
            print(f"==> {missing}", flush=True)


if __name__ == "__main__":
    main()
