"""Synthetic knowledge base for the load tests: documents, chat questions and search terms.

The corpus imitates a small technical guide (JRVS's load tests ran against "100 documents
indexed" about Python, machine learning, RAG and the like). Each document belongs to one topic;
its words are drawn from the topic's own vocabulary and from a shared English vocabulary, both
with Zipf-distributed frequencies (rank r has weight 1 / r^1.1), plus a long tail of rare
synthetic words. So, as in real text, a few words occur in most documents and most words in few,
and a question about one topic matches roughly 1/len(TOPICS) of the corpus, not all of it (the
uniform 33-word corpus of bench/wrk/ingest.lua made every term match every document).

Deterministic: documents(n, seed) returns the same list for the same arguments. The questions and
search terms use the topic vocabularies, so retrieval finds matching documents. Standard library
only (imported by the Locust file and by the drivers in this directory).
"""
import json
import random
import threading
import urllib.request
import http.client
from urllib.parse import urlsplit

TOPICS = {
    "python": ["python", "interpreter", "decorator", "generator", "coroutine", "asyncio",
               "package", "module", "virtualenv", "typing", "dataclass", "exception", "pip",
               "bytecode", "iterator", "comprehension", "closure", "lambda", "pytest", "wheel"],
    "machine learning": ["learning", "training", "gradient", "regression", "classifier",
                         "overfitting", "validation", "feature", "label", "dataset", "loss",
                         "optimizer", "epoch", "batch", "regularization", "accuracy", "forest",
                         "boosting", "clustering", "supervised"],
    "neural networks": ["neuron", "layer", "activation", "backpropagation", "weights", "bias",
                        "convolution", "pooling", "dropout", "relu", "sigmoid", "perceptron",
                        "recurrent", "lstm", "softmax", "initialization", "tensor", "kernel",
                        "residual", "normalization"],
    "transformers": ["transformer", "attention", "encoder", "decoder", "token", "tokenizer",
                     "positional", "embedding", "multihead", "context", "pretraining",
                     "finetuning", "prompt", "sequence", "vocabulary", "logits", "sampling",
                     "temperature", "beam", "bert"],
    "retrieval augmented generation": ["retrieval", "augmented", "generation", "chunk",
                                       "chunking", "citation", "grounding", "reranking",
                                       "hybrid", "lexical", "passage", "recall", "precision",
                                       "fusion", "bm25", "query", "answer", "source",
                                       "hallucination", "corpus"],
    "vector databases": ["vector", "index", "similarity", "cosine", "hnsw", "faiss", "ivf",
                         "quantization", "nearest", "neighbor", "dimension", "distance",
                         "graph", "partition", "shard", "replica", "approximate", "exact",
                         "inner", "product"],
    "natural language processing": ["language", "sentence", "parsing", "stemming", "lemma",
                                     "entity", "sentiment", "translation", "summarization",
                                     "grammar", "syntax", "semantics", "morphology", "corpus",
                                     "ngram", "stopword", "tagging", "dependency", "coreference",
                                     "lexicon"],
    "databases": ["database", "sqlite", "postgres", "transaction", "schema", "migration",
                  "wal", "journal", "commit", "rollback", "isolation", "lock", "table", "row",
                  "column", "join", "btree", "vacuum", "checkpoint", "replication"],
    "web scraping": ["scraping", "crawler", "robots", "html", "parser", "selector", "link",
                     "sitemap", "politeness", "fetch", "redirect", "cookie", "header", "page",
                     "extractor", "boilerplate", "markup", "anchor", "domain", "throttle"],
    "javascript": ["javascript", "typescript", "react", "vue", "angular", "node", "promise",
                   "callback", "closure", "prototype", "bundler", "npm", "component", "hook",
                   "state", "render", "dom", "event", "browser", "module"],
    "systems programming": ["rust", "memory", "pointer", "ownership", "borrow", "thread",
                            "mutex", "atomic", "allocator", "cache", "syscall", "kernel",
                            "compiler", "linker", "stack", "heap", "lifetime", "unsafe",
                            "concurrency", "latency"],
    "web frameworks": ["django", "flask", "fastapi", "route", "middleware", "template",
                       "request", "response", "session", "authentication", "endpoint", "rest",
                       "json", "serializer", "orm", "view", "controller", "websocket", "cors",
                       "server"],
}

COMMON = ("system data user time process result method model information value example "
          "number part type level order form case point state change use work way need "
          "problem question answer approach design performance quality function structure "
          "application service network file output input support control report analysis "
          "research software tool version resource program operation source test build "
          "error limit size option setting configuration default rule step stage task "
          "feature behaviour pattern practice detail reason effect cost speed scale "
          "storage client library interface standard format document text word line "
          "page record list set group range share rate growth measure signal score").split()

WORDS_PER_DOC = 170  # ~1 KB of text: two or three 512-byte chunks


def _zipf_weights(n, s=1.1):
    return [1.0 / (r ** s) for r in range(1, n + 1)]


def _rare_word(rng):
    syllables = ["ka", "lo", "mi", "ren", "tor", "vu", "sel", "pa", "dri", "quo", "zen", "bal"]
    return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))


def documents(n, seed=7):
    """n documents as dicts {title, content, url}, deterministic for (n, seed)."""
    rng = random.Random(seed)
    topic_names = list(TOPICS)
    common_w = _zipf_weights(len(COMMON))
    topic_w = _zipf_weights(20)
    rare = [_rare_word(rng) for _ in range(5000)]
    rare_w = _zipf_weights(len(rare), 1.0)
    out = []
    for i in range(n):
        topic = topic_names[i % len(topic_names)]
        vocab = TOPICS[topic]
        words = []
        for _ in range(WORDS_PER_DOC):
            u = rng.random()
            if u < 0.35:
                words.append(rng.choices(vocab, weights=topic_w[:len(vocab)])[0])
            elif u < 0.9:
                words.append(rng.choices(COMMON, weights=common_w)[0])
            else:
                words.append(rng.choices(rare, weights=rare_w)[0])
        sentences = []
        j = 0
        while j < len(words):
            k = rng.randint(8, 16)
            s = " ".join(words[j:j + k])
            sentences.append(s[0].upper() + s[1:] + ".")
            j += k
        title = "%s guide part %d" % (topic.title(), i // len(topic_names) + 1)
        out.append({"title": title, "content": " ".join(sentences),
                    "url": "https://docs.example.org/%s/%d" % (topic.replace(" ", "-"), i)})
    return out


def questions():
    """Chat questions in the style of JRVS's load test, each about one topic of the corpus."""
    out = []
    for topic, vocab in TOPICS.items():
        out.append("What is %s?" % topic)
        out.append("Explain %s and %s in %s" % (vocab[0], vocab[1], topic))
        out.append("How does %s relate to %s?" % (vocab[2], vocab[4]))
        out.append("Tell me about %s %s" % (vocab[3], vocab[5]))
    return out


def search_terms():
    """Single and two-word search queries drawn from the topic vocabularies."""
    out = []
    for vocab in TOPICS.values():
        out.extend(vocab[:6])
        out.append("%s %s" % (vocab[0], vocab[3]))
    return out


def ingest(base_url, docs, threads=4, timeout=120):
    """POSTs docs to /api/rag/document over keep-alive connections; returns the count stored.

    Raises RuntimeError on the first non-2xx answer (a load run on a half-built corpus would
    measure the wrong thing)."""
    parts = urlsplit(base_url)
    lock = threading.Lock()
    state = {"next": 0, "done": 0, "error": None}

    def worker():
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        try:
            while True:
                with lock:
                    if state["error"] or state["next"] >= len(docs):
                        return
                    i = state["next"]
                    state["next"] += 1
                body = json.dumps(docs[i])
                conn.request("POST", "/api/rag/document", body,
                             {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                if resp.status // 100 != 2:
                    with lock:
                        state["error"] = "document %d: HTTP %d %s" % (i, resp.status, data[:200])
                    return
                with lock:
                    state["done"] += 1
        finally:
            conn.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if state["error"]:
        raise RuntimeError("ingest failed: " + state["error"])
    return state["done"]


def get_json(base_url, path, timeout=30):
    with urllib.request.urlopen(base_url + path, timeout=timeout) as r:
        return json.load(r)
