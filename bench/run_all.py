"""`make bench`: every benchmark, one after another; reports and charts land in bench/reports/."""
from bench import faq_heldout, latency, nlu_clinc


def main() -> None:
    print("### 1/3 Held-out NLU accuracy of the bot", flush=True)
    faq_heldout.main()
    print("### 2/3 CLINC150 intent + out-of-scope", flush=True)
    nlu_clinc.main()
    print("### 3/3 Turn latency and throughput vs the rasa init baseline", flush=True)
    latency.main()


if __name__ == "__main__":
    main()
