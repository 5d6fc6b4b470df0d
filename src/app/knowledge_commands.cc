// Knowledge-base commands that work on the data directory directly: `jrvs ingest`,
// `jrvs search`, `jrvs reindex`, `jrvs documents list|show|delete`.
// They must not run against a data directory a `jrvs serve` is using at the same time (the
// server's vector index would not see their changes until it restarts); use the HTTP API then.
#include <algorithm>
#include <atomic>
#include <iostream>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "app/commands.h"
#include "app/progress.h"
#include "app/runtime.h"
#include "rag/loaders.h"

namespace jrvs::app {

namespace {

Result<std::unique_ptr<Runtime>> OpenWithKnowledge(const Config& config) {
  auto runtime = Runtime::Open(config);
  if (!runtime) return runtime;
  if (Status s = (*runtime)->OpenKnowledge(/*background_save=*/false); !s.ok()) return Error(s);
  return runtime;
}

int Fail(const Status& s) {
  std::cerr << "jrvs: " << s.message() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

}  // namespace

int RunIngest(const Config& config, const std::vector<std::string>& paths, bool recursive) {
  auto files = rag::ListFiles(paths, recursive);
  if (!files) return Fail(files.error());
  for (const auto& skipped : files->skipped) {
    spdlog::warn("skipping {}: {}", skipped.path.string(), skipped.reason);
  }
  auto runtime = OpenWithKnowledge(config);
  if (!runtime) return Fail(runtime.error());
  Runtime& rt = **runtime;

  const auto& list = files->supported;
  std::atomic<size_t> next{0}, done{0}, chunks{0}, added{0}, updated{0}, unchanged{0}, failed{0};
  std::mutex report_mu;  // guards the failure list and the progress line
  std::vector<std::string> failures;
  Progress progress("ingest", list.size());
  rag::LoaderOptions loader_options;
  loader_options.max_file_bytes = static_cast<size_t>(config.ingest_max_bytes);

  auto worker = [&] {
    while (true) {
      size_t i = next.fetch_add(1);
      if (i >= list.size()) return;
      const auto& path = list[i];
      auto loaded = rag::LoadFile(path, loader_options);
      Status status;
      if (loaded) {
        rag::IngestDocument doc;
        doc.title = loaded->title;
        doc.content = std::move(loaded->content);
        doc.content_type = loaded->content_type;
        doc.metadata_json = loaded->metadata_json;
        doc.url = "file://" + std::filesystem::absolute(path).lexically_normal().string();
        doc.pages = std::move(loaded->pages);
        auto result = rt.ingest().Ingest(doc);
        if (result) {
          chunks += result->chunks;
          switch (result->outcome) {
            case store::PutDocumentResult::Outcome::kCreated:
              ++added;
              break;
            case store::PutDocumentResult::Outcome::kUpdated:
              ++updated;
              break;
            case store::PutDocumentResult::Outcome::kUnchanged:
              ++unchanged;
              break;
          }
        } else {
          status = result.error();
        }
      } else {
        status = loaded.error();
      }
      std::lock_guard lock(report_mu);
      if (!status.ok()) {
        ++failed;
        failures.push_back(fmt::format("{}: {}", path.string(), status.message()));
      }
      progress.Update(++done, chunks.load(), path.string());
    }
  };
  size_t threads =
      std::max<size_t>(1, std::min<size_t>(std::thread::hardware_concurrency(), list.size()));
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  progress.Finish();
  // Save a finished graph: vectors still in the delta (or a switch to HNSW still building)
  // would otherwise be left to the next `serve`, which builds with one thread.
  rt.index().index()->WaitForBackgroundWork();
  if (Status s = rt.SaveIndex(); !s.ok()) return Fail(s);

  for (const auto& f : failures) std::cerr << "failed: " << f << "\n";
  std::cout << fmt::format(
      "{} files: {} added, {} updated, {} unchanged, {} failed, {} skipped; {} chunks\n",
      list.size(), added.load(), updated.load(), unchanged.load(), failed.load(),
      files->skipped.size(), chunks.load());
  return failed.load() == 0 ? kExitOk : kExitFailure;
}

int RunSearch(const Config& config, const std::string& query, int limit, const std::string& mode) {
  auto runtime = OpenWithKnowledge(config);
  if (!runtime) return Fail(runtime.error());
  std::optional<rag::SearchMode> m;
  if (!mode.empty()) {
    m = rag::ParseSearchMode(mode);
    if (!m) return Fail(Status(StatusCode::kInvalidArgument, "--mode: hybrid, lexical or vector"));
  }
  auto hits = (*runtime)->retriever().SearchDocuments(query, static_cast<size_t>(limit), m);
  if (!hits) return Fail(hits.error());
  if (hits->empty()) {
    std::cout << "no results\n";
    return kExitOk;
  }
  int n = 0;
  for (const auto& h : *hits) {
    std::cout << fmt::format("{:>2}. [{:.2f}] {} (id {}{})\n    {}\n", ++n, h.similarity, h.title,
                             h.document_id, h.url ? ", " + *h.url : "", h.preview);
  }
  return kExitOk;
}

int RunReindex(const Config& config) {
  auto runtime = OpenWithKnowledge(config);
  if (!runtime) return Fail(runtime.error());
  Runtime& rt = **runtime;
  // Re-embed chunks stored without a vector or with another model's (e.g. after changing
  // embed.provider), in batches, then rebuild the index from the database.
  const std::string model(rt.embedder().model());
  const size_t batch = static_cast<size_t>(config.embed_batch);
  std::vector<int64_t> ids;
  std::vector<std::string> texts;
  size_t reembedded = 0;
  Status failure;
  auto flush = [&]() -> bool {
    if (ids.empty()) return true;
    auto vectors = rt.embedder().Embed(texts);
    if (!vectors) {
      failure = vectors.error();
      return false;
    }
    if (Status s = rt.store().UpdateChunkEmbeddings(ids, *vectors, model); !s.ok()) {
      failure = s;
      return false;
    }
    reembedded += ids.size();
    ids.clear();
    texts.clear();
    return true;
  };
  // Collect a batch, then stop the scan: updating rows while iterating them is avoided.
  int64_t after = 0;
  while (true) {
    Status scan = rt.store().ForEachStaleChunk(after, model, [&](int64_t id, std::string_view t) {
      ids.push_back(id);
      texts.emplace_back(t);
      after = id;
      return ids.size() < batch;
    });
    if (!scan.ok()) return Fail(scan);
    if (ids.empty()) break;
    if (!flush()) return Fail(failure);
  }
  if (Status s = rt.index().Rebuild(); !s.ok()) return Fail(s);
  if (Status s = rt.SaveIndex(); !s.ok()) return Fail(s);
  auto index = rt.index().index();
  std::cout << fmt::format(
      "re-embedded {} chunks with {}; index rebuilt: {} vectors ({}, {} dims)\n", reembedded, model,
      index->size(), index->type(), index->dimension());
  return kExitOk;
}

int RunDocuments(const Config& config, const std::string& action, int64_t id, int limit,
                 int offset) {
  auto runtime = action == "delete" ? OpenWithKnowledge(config) : Runtime::Open(config);
  if (!runtime) return Fail(runtime.error());
  Runtime& rt = **runtime;
  if (action == "list") {
    auto docs = rt.store().ListDocuments(limit, offset);
    if (!docs) return Fail(docs.error());
    std::cout << fmt::format("{:>6}  {:>7}  {:>6}  {}\n", "id", "bytes", "chunks", "title");
    for (const auto& d : *docs) {
      std::cout << fmt::format("{:>6}  {:>7}  {:>6}  {}{}\n", d.id, d.content_length, d.chunk_count,
                               d.title, d.url ? "  <" + *d.url + ">" : "");
    }
    return kExitOk;
  }
  if (action == "show") {
    auto doc = rt.store().GetDocument(id);
    if (!doc) return Fail(doc.error());
    std::cout << fmt::format(
        "id: {}\ntitle: {}\nurl: {}\ntype: {}\nsha256: {}\nmetadata: {}\n\n{}\n", doc->id,
        doc->title, doc->url.value_or(""), doc->content_type, doc->content_hash, doc->metadata_json,
        doc->content);
    return kExitOk;
  }
  Status s = rt.ingest().Delete(id);
  if (!s.ok()) return Fail(s);
  if (Status saved = rt.SaveIndex(); !saved.ok()) return Fail(saved);
  std::cout << fmt::format("deleted document {}\n", id);
  return kExitOk;
}

}  // namespace jrvs::app
