#include "rag/remote_embedders.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <utility>

#include <boost/json.hpp>

namespace jrvs::rag {
namespace {

namespace json = boost::json;

constexpr size_t kMaxBatch = 4096;
constexpr size_t kMaxDimension = 65536;
constexpr const char* kProbeText = "dimension probe";

std::string TrimTrailingSlashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

Status ValidateCommon(std::string_view base_url, std::string_view model, size_t batch_size,
                      size_t dimension, const llm::HttpClientOptions& http) {
  if (!base_url.starts_with("http://") && !base_url.starts_with("https://")) {
    return Status(
        StatusCode::kInvalidArgument,
        "base_url must start with http:// or https:// (got '" + std::string(base_url) + "')");
  }
  if (model.empty()) return Status(StatusCode::kInvalidArgument, "model must not be empty");
  if (batch_size < 1 || batch_size > kMaxBatch) {
    return Status(StatusCode::kInvalidArgument, "batch_size must be in 1.." +
                                                    std::to_string(kMaxBatch) + " (got " +
                                                    std::to_string(batch_size) + ")");
  }
  if (dimension > kMaxDimension) {
    return Status(StatusCode::kInvalidArgument, "dimension must be 0 (learn it) or at most " +
                                                    std::to_string(kMaxDimension) + " (got " +
                                                    std::to_string(dimension) + ")");
  }
  if (Status s = http.Validate(); !s.ok()) {
    return Status(StatusCode::kInvalidArgument, "http." + s.message());
  }
  return Status::Ok();
}

// Puts the model's name in front of a transport error, keeping its code.
tl::unexpected<Status> WithModel(const std::string& model, const Status& s) {
  return Error(s.code(), model + ": " + s.message());
}

// Whether a 404 body is the server's JSON error (e.g. a missing model) rather than a missing route.
bool IsJsonError(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  return !ec && v.is_object() && v.get_object().contains("error");
}

Result<json::object> ParseObject(const std::string& model, std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return Error(StatusCode::kInternal, model + ": malformed JSON response: " + ec.message());
  if (!v.is_object()) return Error(StatusCode::kInternal, model + ": response is not an object");
  return std::move(v.get_object());
}

// Converts one JSON vector to floats and L2-normalises it. `dimension` 0 accepts any non-zero
// length. `which` numbers the vector in messages.
Result<std::vector<float>> ToUnitVector(const std::string& model, const json::value& v,
                                        size_t dimension, size_t which) {
  if (!v.is_array()) {
    return Error(StatusCode::kInternal,
                 model + ": embedding " + std::to_string(which) + " is not an array");
  }
  const json::array& a = v.get_array();
  if (a.empty()) {
    return Error(StatusCode::kInternal,
                 model + ": embedding " + std::to_string(which) + " is empty");
  }
  if (dimension != 0 && a.size() != dimension) {
    return Error(StatusCode::kInternal,
                 model + ": dimension mismatch: embedding " + std::to_string(which) + " has " +
                     std::to_string(a.size()) + " floats, expected " + std::to_string(dimension));
  }
  std::vector<float> out(a.size());
  double norm2 = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_number()) {
      return Error(StatusCode::kInternal,
                   model + ": embedding " + std::to_string(which) + " holds a non-number");
    }
    double x = a[i].to_number<double>();
    if (!std::isfinite(x)) {
      return Error(StatusCode::kInternal,
                   model + ": embedding " + std::to_string(which) + " holds a non-finite value");
    }
    out[i] = static_cast<float>(x);
    norm2 += x * x;
  }
  if (norm2 > 0) {
    double inv = 1.0 / std::sqrt(norm2);
    for (auto& x : out) x = static_cast<float>(x * inv);
  }
  return out;
}

Status CountMismatch(const std::string& model, size_t got, size_t want) {
  return Status(StatusCode::kInternal, model + ": count mismatch: " + std::to_string(got) +
                                           " embeddings for " + std::to_string(want) + " texts");
}

// Checks that every vector has the first one's length (when no dimension was fixed yet).
Status SameDimension(const std::string& model, const std::vector<std::vector<float>>& vectors) {
  for (size_t i = 1; i < vectors.size(); ++i) {
    if (vectors[i].size() != vectors[0].size()) {
      return Status(StatusCode::kInternal,
                    model + ": dimension mismatch: embedding " + std::to_string(i) + " has " +
                        std::to_string(vectors[i].size()) + " floats, embedding 0 has " +
                        std::to_string(vectors[0].size()));
    }
  }
  return Status::Ok();
}

json::array TextArray(const std::vector<std::string>& texts) {
  json::array a;
  a.reserve(texts.size());
  for (const auto& t : texts) a.emplace_back(t);
  return a;
}

// Runs `embed_batch` over `texts` in slices of `batch_size` and concatenates the results.
template <typename EmbedBatchFn>
Result<std::vector<std::vector<float>>> EmbedInBatches(const std::vector<std::string>& texts,
                                                       size_t batch_size,
                                                       EmbedBatchFn&& embed_batch) {
  std::vector<std::vector<float>> out;
  out.reserve(texts.size());
  for (size_t start = 0; start < texts.size(); start += batch_size) {
    size_t end = std::min(texts.size(), start + batch_size);
    std::vector<std::string> batch(texts.begin() + static_cast<std::ptrdiff_t>(start),
                                   texts.begin() + static_cast<std::ptrdiff_t>(end));
    auto vectors = embed_batch(batch);
    if (!vectors) return Error(std::move(vectors.error()));
    for (auto& v : *vectors) out.push_back(std::move(v));
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Ollama

Status OllamaEmbedderOptions::Validate() const {
  return ValidateCommon(base_url, model, batch_size, dimension, http);
}

OllamaEmbedder::OllamaEmbedder(OllamaEmbedderOptions options, size_t dimension)
    : options_(std::move(options)),
      model_name_("ollama:" + options_.model),
      dimension_(dimension),
      http_(options_.http) {}

Result<std::unique_ptr<OllamaEmbedder>> OllamaEmbedder::Create(OllamaEmbedderOptions options) {
  if (Status s = options.Validate(); !s.ok()) {
    return Error(s.code(), "ollama embedder: " + s.message());
  }
  options.base_url = TrimTrailingSlashes(options.base_url);
  size_t dimension = options.dimension;
  std::unique_ptr<OllamaEmbedder> embedder(new OllamaEmbedder(std::move(options), dimension));
  if (dimension == 0) {
    auto probe = embedder->EmbedBatch({kProbeText}, 0);
    if (!probe) return Error(std::move(probe.error()));
    embedder->dimension_ = probe->front().size();
  }
  return embedder;
}

Result<std::vector<std::vector<float>>> OllamaEmbedder::Embed(
    const std::vector<std::string>& texts) {
  return EmbedInBatches(texts, options_.batch_size, [this](const std::vector<std::string>& batch) {
    return EmbedBatch(batch, dimension_);
  });
}

Result<std::vector<std::vector<float>>> OllamaEmbedder::EmbedBatch(
    const std::vector<std::string>& texts, size_t dimension) {
  std::vector<std::vector<float>> out;
  if (!legacy_.load(std::memory_order_relaxed)) {
    json::object request{{"model", options_.model}, {"input", TextArray(texts)}};
    if (!options_.keep_alive.empty()) request["keep_alive"] = options_.keep_alive;
    auto response = http_.PostJson(options_.base_url + "/api/embed", json::serialize(request));
    if (!response) return WithModel(model_name_, response.error());
    if (response->status == 404 && !IsJsonError(response->body)) {
      legacy_.store(true, std::memory_order_relaxed);  // an Ollama without /api/embed
    } else if (response->status != 200) {
      return Error(
          llm::HttpErrorStatus(response->status, response->body, model_name_ + " /api/embed"));
    } else {
      auto body = ParseObject(model_name_, response->body);
      if (!body) return Error(std::move(body.error()));
      const json::value* embeddings = body->if_contains("embeddings");
      if (embeddings == nullptr || !embeddings->is_array()) {
        return Error(StatusCode::kInternal, model_name_ + ": response has no \"embeddings\" array");
      }
      const json::array& a = embeddings->get_array();
      if (a.size() != texts.size())
        return Error(CountMismatch(model_name_, a.size(), texts.size()));
      out.reserve(a.size());
      for (size_t i = 0; i < a.size(); ++i) {
        auto v = ToUnitVector(model_name_, a[i], dimension, i);
        if (!v) return Error(std::move(v.error()));
        out.push_back(std::move(*v));
      }
      if (dimension == 0) {
        if (Status s = SameDimension(model_name_, out); !s.ok()) return Error(std::move(s));
      }
      return out;
    }
  }
  // The old API: one text per request.
  out.reserve(texts.size());
  for (const auto& text : texts) {
    auto v = EmbedLegacy(text, dimension == 0 && !out.empty() ? out.front().size() : dimension);
    if (!v) return Error(std::move(v.error()));
    out.push_back(std::move(*v));
  }
  return out;
}

Result<std::vector<float>> OllamaEmbedder::EmbedLegacy(const std::string& text, size_t dimension) {
  json::object request{{"model", options_.model}, {"prompt", text}};
  if (!options_.keep_alive.empty()) request["keep_alive"] = options_.keep_alive;
  auto response = http_.PostJson(options_.base_url + "/api/embeddings", json::serialize(request));
  if (!response) return WithModel(model_name_, response.error());
  if (response->status != 200) {
    return Error(
        llm::HttpErrorStatus(response->status, response->body, model_name_ + " /api/embeddings"));
  }
  auto body = ParseObject(model_name_, response->body);
  if (!body) return Error(std::move(body.error()));
  const json::value* embedding = body->if_contains("embedding");
  if (embedding == nullptr) {
    return Error(StatusCode::kInternal, model_name_ + ": response has no \"embedding\"");
  }
  if (embedding->is_array() && embedding->get_array().empty()) {
    return Error(CountMismatch(model_name_, 0, 1));
  }
  return ToUnitVector(model_name_, *embedding, dimension, 0);
}

// ---------------------------------------------------------------------------------------------
// OpenAI-compatible

Status OpenAiEmbedderOptions::Validate() const {
  return ValidateCommon(base_url, model, batch_size, dimension, http);
}

namespace {
std::string OpenAiEmbeddingsUrl(const std::string& base_url) {
  std::string base = TrimTrailingSlashes(base_url);
  if (base.ends_with("/v1")) return base + "/embeddings";
  return base + "/v1/embeddings";
}
}  // namespace

OpenAiEmbedder::OpenAiEmbedder(OpenAiEmbedderOptions options, size_t dimension)
    : options_(std::move(options)),
      model_name_("openai:" + options_.model),
      url_(OpenAiEmbeddingsUrl(options_.base_url)),
      dimension_(dimension),
      http_(options_.http) {}

Result<std::unique_ptr<OpenAiEmbedder>> OpenAiEmbedder::Create(OpenAiEmbedderOptions options) {
  if (Status s = options.Validate(); !s.ok()) {
    return Error(s.code(), "openai embedder: " + s.message());
  }
  size_t dimension = options.dimension;
  std::unique_ptr<OpenAiEmbedder> embedder(new OpenAiEmbedder(std::move(options), dimension));
  if (dimension == 0) {
    auto probe = embedder->EmbedBatch({kProbeText}, 0);
    if (!probe) return Error(std::move(probe.error()));
    embedder->dimension_ = probe->front().size();
  }
  return embedder;
}

Result<std::vector<std::vector<float>>> OpenAiEmbedder::Embed(
    const std::vector<std::string>& texts) {
  return EmbedInBatches(texts, options_.batch_size, [this](const std::vector<std::string>& batch) {
    return EmbedBatch(batch, dimension_);
  });
}

Result<std::vector<std::vector<float>>> OpenAiEmbedder::EmbedBatch(
    const std::vector<std::string>& texts, size_t dimension) {
  json::object request{{"model", options_.model}, {"input", TextArray(texts)}};
  llm::HttpHeaders headers;
  if (!options_.api_key.empty())
    headers.emplace_back("Authorization", "Bearer " + options_.api_key);
  auto response = http_.PostJson(url_, json::serialize(request), headers);
  if (!response) return WithModel(model_name_, response.error());
  if (response->status != 200) {
    return Error(
        llm::HttpErrorStatus(response->status, response->body, model_name_ + " /v1/embeddings"));
  }
  auto body = ParseObject(model_name_, response->body);
  if (!body) return Error(std::move(body.error()));
  const json::value* data = body->if_contains("data");
  if (data == nullptr || !data->is_array()) {
    return Error(StatusCode::kInternal, model_name_ + ": response has no \"data\" array");
  }
  const json::array& items = data->get_array();
  if (items.size() != texts.size()) {
    return Error(CountMismatch(model_name_, items.size(), texts.size()));
  }
  std::vector<std::optional<std::vector<float>>> slots(texts.size());
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_object()) {
      return Error(StatusCode::kInternal,
                   model_name_ + ": data[" + std::to_string(i) + "] is not an object");
    }
    const json::object& item = items[i].get_object();
    size_t index = i;
    if (const json::value* idx = item.if_contains("index")) {
      if (!idx->is_int64() || idx->get_int64() < 0 ||
          static_cast<size_t>(idx->get_int64()) >= texts.size()) {
        return Error(StatusCode::kInternal,
                     model_name_ + ": data[" + std::to_string(i) + "] has a bad index");
      }
      index = static_cast<size_t>(idx->get_int64());
    }
    if (slots[index]) {
      return Error(StatusCode::kInternal,
                   model_name_ + ": index " + std::to_string(index) + " appears twice");
    }
    const json::value* embedding = item.if_contains("embedding");
    if (embedding == nullptr) {
      return Error(StatusCode::kInternal,
                   model_name_ + ": data[" + std::to_string(i) + "] has no embedding");
    }
    auto v = ToUnitVector(model_name_, *embedding, dimension, index);
    if (!v) return Error(std::move(v.error()));
    slots[index] = std::move(*v);
  }
  std::vector<std::vector<float>> out;
  out.reserve(slots.size());
  for (auto& slot : slots) out.push_back(std::move(*slot));  // all filled: n unique indices
  if (dimension == 0) {
    if (Status s = SameDimension(model_name_, out); !s.ok()) return Error(std::move(s));
  }
  return out;
}

}  // namespace jrvs::rag
