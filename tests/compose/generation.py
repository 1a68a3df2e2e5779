"""Scenario for ``notebooks/05_bulk_generation.ipynb``: 200 product descriptions, recorded by
``scripts/compose_examples.py`` into ``workersai/examples/05_bulk_generation.json.gz``.

Answers are classic native envelopes with usage (wire reference §3.2.1), in the format of
``tests/compose/chat.py``. About one product in forty meets a model out of capacity: Llama 3.3
answers 429 / 3040 "Capacity temporarily exceeded, please try again." (§2.2) to every attempt,
so the job's fallback model answers it — which product is decided by a hash of its name, so
the same ones fail on every run.
"""

from __future__ import annotations

import hashlib
import re

from tests.compose import scenario
from tests.compose.chat import LLAMA_33, Plan, _ask, answer
from workersai.testing import RecordedRequest, Reply

_PROMPT = re.compile(r"^Write a one-sentence product description for an? (?P<product>[a-z -]+)\.$")
_TRAITS = (
    "built for daily use",
    "light enough to carry anywhere",
    "made to last for years",
    "easy to clean and store",
    "designed for weekend adventures",
)


def out_of_capacity(product: str) -> bool:
    """Whether Llama 3.3 is out of capacity for this product's request (about 1 in 40)."""
    return int(hashlib.sha256(product.encode()).hexdigest(), 16) % 40 == 0


@scenario
def product_descriptions(request: RecordedRequest) -> Reply | None:
    ask = _ask(request)
    if ask is None:
        return None
    matched = _PROMPT.match(ask.last_user)
    if matched is None:
        return None
    product = matched.group("product")
    if ask.model == LLAMA_33 and out_of_capacity(product):
        return Reply.error(429, 3040, "Capacity temporarily exceeded, please try again.")
    trait = _TRAITS[int(hashlib.sha256(product.encode()).hexdigest(), 16) % len(_TRAITS)]
    colour, _, item = product.partition(" ")
    return answer(ask, Plan(text=f"Meet the {colour} {item}: {trait}, in a shade that stands out."))
