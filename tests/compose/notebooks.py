"""Scenarios for the notebooks (``notebooks/*.ipynb``), recorded by
``scripts/compose_examples.py`` into ``workersai/examples/<notebook>.json.gz``.

Chat answers use the wire formats of ``tests/compose/chat.py`` (native v4 envelope and SSE
with ``p`` padding and the usage trailer; Llama 3.3 tool calls in the legacy shape with
string-typed values, §3.2.2; JSON mode with ``response`` as an object, §3.2.4). Embeddings,
the Batch API, reranking and images come from ``embeddings.py`` and ``media.py``.

Two answers depend on what the package really did, so a regression shows in the notebook:

* the RAG answers are extractive: they quote the sentence of the *retrieved context* that
  best matches the question, so they are right only when retrieval and reranking found the
  right document;
* the agent's answers are computed from the tool results it was sent back.

AI Gateway caching (§1.5): a request carrying ``cf-aig-gateway-id`` is answered with
``cf-aig-cache-status: MISS`` the first time; the identical request again, with caching on
(``cf-aig-cache-ttl`` > 0, no ``cf-aig-skip-cache``), gets the same body with ``HIT`` and a
new ``cf-aig-log-id``. Composed, not recorded.
"""

from __future__ import annotations

import hashlib
import re

from tests.compose import scenario
from tests.compose.chat import LLAMA_33, Ask, Plan, _ask, answer, quirk
from workersai.testing import RecordedRequest, Reply

# -- 01_langchain_quickstart ---------------------------------------------------------------


@quirk("What is retrieval-augmented generation?")
def _rag_definition(ask: Ask) -> Plan:
    return Plan(
        text="Retrieval-augmented generation (RAG) lets a language model answer from documents "
        "retrieved for each question — usually by embedding search — which are added to the "
        "prompt, so answers can cite current, private data the model was never trained on."
    )


@quirk("Write a haiku about servers at the edge of the network.")
def _haiku(ask: Ask) -> Plan:
    return Plan(
        text="Close to every door,\nsmall servers hum at the edge —\nanswers before thought."
    )


_MEETING = "The meeting moved to Thursday."
_TRANSLATIONS = {
    "French": "La réunion a été déplacée à jeudi.",
    "Spanish": "La reunión se trasladó al jueves.",
    "German": "Das Meeting wurde auf Donnerstag verschoben.",
    "Portuguese": "A reunião foi adiada para quinta-feira.",
}


@quirk(_MEETING)
def _translate(ask: Ask) -> Plan | None:
    system = " ".join(str(m.get("content")) for m in ask.messages if m.get("role") == "system")
    language = re.search(r"into (\w+)\.", system)
    if language is None or language.group(1) not in _TRANSLATIONS:
        return None
    return Plan(text=_TRANSLATIONS[language.group(1)])


@quirk("What does a night at the partner hotel in Porto cost?")
def _hotel_rate_call(ask: Ask) -> Plan | None:
    if "get_hotel_rate" not in ask.tools:
        return None
    return Plan(calls=[("get_hotel_rate", {"city": "Porto"})])


_AGENT_QUESTION = "How much are 3 nights at the partner hotel in Porto, in US dollars?"


@quirk(_AGENT_QUESTION)
def _travel_agent(ask: Ask) -> Plan | None:
    if not {"get_hotel_rate", "convert_currency"} <= set(ask.tools):
        return None
    results = [str(m.get("content", "")) for m in ask.messages if m.get("role") == "tool"]
    if not results:
        return Plan(calls=[("get_hotel_rate", {"city": "Porto"})])
    rate = re.search(r"(\d+(?:\.\d+)?) EUR per night", results[0])
    if rate is None:
        return Plan(text="I could not find the partner hotel's rate in Porto.")
    total = 3 * float(rate.group(1))
    if len(results) == 1:
        # §3.2.2: the legacy shape carries the number as a string ("285").
        return Plan(
            calls=[
                (
                    "convert_currency",
                    {"amount": f"{total:g}", "from_currency": "EUR", "to_currency": "USD"},
                )
            ]
        )
    return Plan(
        text=f"Three nights at the partner hotel in Porto cost {total:g} EUR "
        f"(3 × {rate.group(1)} EUR), which is about {results[-1]} USD."
    )


_FILMS = {
    "Pick one classic science-fiction film from the 1980s.": {
        "title": "Blade Runner",
        "year": 1982,
        "director": "Ridley Scott",
        "genres": ["science fiction", "neo-noir"],
    },
    "Pick one classic science-fiction film from the 1990s.": {
        "title": "The Matrix",
        "year": 1999,
        "director": "Lana Wachowski and Lilly Wachowski",
        "genres": ["science fiction", "action"],
    },
}


def _film(ask: Ask) -> Plan | None:
    film = _FILMS[ask.last_user]
    if ask.body.get("response_format"):
        return Plan(json=dict(film))  # JSON mode: `response` is the object (§3.2.4)
    if isinstance(ask.forced, str) and ask.forced in ask.tools:
        return Plan(calls=[(ask.forced, dict(film))])
    return None


for _prompt in _FILMS:
    quirk(_prompt)(_film)


# -- 02_llamaindex_rag ---------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from"}
    | {"how", "i", "in", "is", "it", "its", "my", "of", "on", "or", "our", "the", "to"}
    | {"what", "when", "which", "who", "why", "with", "you", "your"}
)
# What the condense step makes of the notebook's follow-up questions.
_STANDALONE = {"And the battery?": "How long is the battery warranty?"}


def _stems(text: str) -> set[str]:
    return {w.removesuffix("s") for w in _WORD.findall(text.lower()) if w not in _STOP}


def _best_sentence(context: str, question: str) -> str | None:
    """The context sentence sharing the most words with the question (ties: the first)."""
    wanted = _stems(question)
    best, best_overlap = None, 0
    for line in context.splitlines():
        if ":" in line and len(line) < 40:  # metadata lines ("title: Warranty")
            continue
        for sentence in re.split(r"(?<=[.!?])\s+", line.strip()):
            overlap = len(wanted & _stems(sentence))
            if overlap > best_overlap:
                best, best_overlap = sentence, overlap
    return best


def _extractive(context: str, question: str) -> Plan:
    sentence = _best_sentence(context, question)
    if sentence is None:
        return Plan(text="I don't know: the documents do not say.")
    return Plan(text=f"According to the help centre: {sentence}")


# The notebook's documents carry a `title` that LlamaIndex puts above each retrieved text.
_HELP_CENTRE = re.compile(
    r"^title: (Warranty|Returns|Shipping|Battery care|Servicing|Frame sizes|Contact)$", re.MULTILINE
)


def _is_help_centre(ask: Ask, text: str) -> bool:
    return ask.model == LLAMA_33 and ("Nimbus" in text or _HELP_CENTRE.search(text) is not None)


_QA_CONTEXT = re.compile(
    r"Context information is below\.\n-+\n(?P<context>.*)\n-+\n.*Query: (?P<query>.*?)\n",
    re.DOTALL,
)
_CHAT_CONTEXT = re.compile(
    r"Here are the relevant documents for the context:\n(?P<context>.*)\n\s*Instruction:",
    re.DOTALL,
)
_CONDENSE = re.compile(r"Follow Up Input: (?P<question>.*?)\n\s*Standalone question:", re.DOTALL)


@scenario
def nimbus_rag(request: RecordedRequest) -> Reply | None:
    ask = _ask(request)
    if ask is None:
        return None
    text = "\n".join(str(m.get("content")) for m in ask.messages)
    if not _is_help_centre(ask, text):
        return None
    condense = _CONDENSE.search(text)
    if condense is not None:
        question = condense.group("question").strip()
        return answer(ask, Plan(text=_STANDALONE.get(question, question)))
    query_engine = _QA_CONTEXT.search(text)
    if query_engine is not None:
        return answer(ask, _extractive(query_engine.group("context"), query_engine["query"]))
    chat_engine = _CHAT_CONTEXT.search(text)
    if chat_engine is not None:
        # The answer request carries the raw follow-up; the retrieval used its rewrite.
        question = _STANDALONE.get(ask.last_user, ask.last_user)
        return answer(ask, _extractive(chat_engine.group("context"), question))
    return None


# -- 04_batch_and_gateway --------------------------------------------------------------------

_GATEWAY_QUESTION = "Name three uses of a vector database, comma-separated."
_GATEWAY_CACHE: set[str] = set()


@quirk(_GATEWAY_QUESTION)
def _gateway_cache(ask: Ask) -> Reply:
    reply = answer(
        ask,
        Plan(text="Semantic search, retrieval-augmented generation, recommendations."),
    )
    gateway = ask.headers.get("cf-aig-gateway-id")
    if gateway is None:
        return reply
    # The gateway caches by request body, or by the caller's cf-aig-cache-key when set.
    cache_key = ask.headers.get("cf-aig-cache-key") or ask.seed()
    key = hashlib.sha256(f"{gateway}|{cache_key}".encode()).hexdigest()
    caching = (
        int(ask.headers.get("cf-aig-cache-ttl", "0") or 0) > 0
        and ask.headers.get("cf-aig-skip-cache") != "true"
    )
    if caching and key in _GATEWAY_CACHE:
        reply.headers["cf-aig-cache-status"] = "HIT"
        reply.headers["cf-aig-log-id"] = "01JGATEWAYLOG" + key[:8].upper()
    elif caching:
        _GATEWAY_CACHE.add(key)
    return reply
