"""Locust scenarios for jrvs: JRVS's three user classes against jrvs's JRVS-compatible API.

    locust -f tests/load/locustfile.py --headless --users 10 --spawn-rate 10 --run-time 60s \
        --host http://127.0.0.1:PORT JRVSUser

- JRVSUser (wait 1-3 s): the normal mix of JRVS's performance guide: ~50% chat (POST /api/chat,
  non-streaming, one session id per simulated user, varied questions), 20% document search,
  20% health, 10% other (models, stats, the user's history, RAG retrieve).
- IntenseUser (wait 0.1-0.5 s): rapid-fire chat.
- RAGFocusedUser (wait 1-2 s): search and retrieval heavy (three searches per task, plus
  /api/rag/retrieve and an occasional chat).

Every request is a failure unless its status is 2xx and its JSON has the route's main field
(so an error page with a 200, or a truncated body, also counts). Questions and search terms
come from corpus.py, the vocabulary the drivers ingest, so retrieval finds documents. The
drivers (run_scenarios.py, soak.py, scripts/load*.sh) start the server and ingest the corpus;
against a server of your own, ingest corpus.documents(100) first (corpus.ingest).
"""
import os
import random
import sys
import uuid
from urllib.parse import quote

from locust import HttpUser, between, task

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402  (after the path tweak, so locust -f works from any directory)

QUESTIONS = corpus.questions()
SEARCH_TERMS = corpus.search_terms()


def _check(response, required_key):
    """Marks the response failed unless 2xx with a JSON object holding required_key."""
    if not 200 <= response.status_code < 300:
        response.failure("HTTP %d: %s" % (response.status_code, response.text[:200]))
        return
    try:
        body = response.json()
    except ValueError:
        response.failure("body is not JSON")
        return
    if not isinstance(body, dict) or required_key not in body:
        response.failure("JSON without '%s'" % required_key)
        return
    response.success()


class _Api:
    """The requests shared by the user classes; `self` is an HttpUser."""

    def chat(self, message, session_id=None):
        payload = {"message": message, "stream": False}
        if session_id:
            payload["session_id"] = session_id
        with self.client.post("/api/chat", json=payload, catch_response=True,
                              name="POST /api/chat") as r:
            _check(r, "response")

    def search(self, query):
        with self.client.get("/api/search?query=" + quote(query) + "&limit=5",
                             catch_response=True, name="GET /api/search") as r:
            _check(r, "results")

    def retrieve(self, query):
        with self.client.post("/api/rag/retrieve", json={"query": query, "k": 5},
                              catch_response=True, name="POST /api/rag/retrieve") as r:
            _check(r, "context")

    def health(self):
        with self.client.get("/health", catch_response=True, name="GET /health") as r:
            _check(r, "status")


class JRVSUser(_Api, HttpUser):
    """Normal usage: weights 10 chat : 4 search : 4 health : 2 other (50/20/20/10 %)."""

    wait_time = between(1, 3)

    def on_start(self):
        self.session_id = "load-" + uuid.uuid4().hex[:16]

    @task(10)
    def chat_query(self):
        self.chat(random.choice(QUESTIONS), self.session_id)

    @task(4)
    def search_documents(self):
        self.search(random.choice(SEARCH_TERMS))

    @task(4)
    def health_check(self):
        self.health()

    @task(2)
    def other(self):
        kind = random.randrange(4)
        if kind == 0:
            with self.client.get("/api/models", catch_response=True,
                                 name="GET /api/models") as r:
                _check(r, "models")
        elif kind == 1:
            with self.client.get("/api/stats", catch_response=True, name="GET /api/stats") as r:
                _check(r, "vector_store")
        elif kind == 2:
            with self.client.get("/api/history/" + self.session_id, catch_response=True,
                                 name="GET /api/history/{session}") as r:
                _check(r, "history")
        else:
            self.retrieve(random.choice(QUESTIONS))


class IntenseUser(_Api, HttpUser):
    """Stress: rapid-fire chat, a new question each time, one session per simulated user."""

    wait_time = between(0.1, 0.5)

    def on_start(self):
        self.session_id = "intense-" + uuid.uuid4().hex[:16]

    @task
    def rapid_chat(self):
        self.chat(random.choice(QUESTIONS), self.session_id)


class RAGFocusedUser(_Api, HttpUser):
    """Retrieval heavy: bursts of three searches, RAG retrieval, and a chat now and then."""

    wait_time = between(1, 2)

    @task(5)
    def search_intensive(self):
        for term in random.sample(SEARCH_TERMS, 3):
            self.search(term)

    @task(3)
    def context_retrieval(self):
        self.retrieve(random.choice(QUESTIONS))

    @task(1)
    def chat_with_context(self):
        self.chat(random.choice(QUESTIONS))
