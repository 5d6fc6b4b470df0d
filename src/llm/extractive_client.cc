#include "llm/extractive_client.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iterator>
#include <map>
#include <set>
#include <unordered_set>
#include <utility>

#include "core/text.h"

namespace jrvs::llm {
namespace {

constexpr size_t kMinWords = 3;              // shorter sentences are fragments, not answers
constexpr double kEarlyPassageBonus = 0.15;  // rank 0 scores x1.15, rank 1 x1.075, ...

struct Candidate {
  size_t passage = 0;              // index into the passages (their rank)
  size_t offset = 0;               // byte offset of the sentence in the passage text
  std::string text;                // cleaned sentence
  std::vector<std::string> terms;  // its distinct stemmed non-stop-word terms, sorted
  double score = 0;
};

// The distinct stemmed non-stop-word terms of `text`, sorted.
std::vector<std::string> Terms(std::string_view text) {
  std::set<std::string> terms;
  text::TokenStream stream(text);
  std::string token;
  while (stream.Next(&token)) {
    if (text::IsStopWord(token)) continue;
    terms.insert(text::PorterStem(token));
  }
  return {terms.begin(), terms.end()};
}

size_t WordCount(std::string_view text) {
  text::TokenStream stream(text);
  std::string token;
  size_t n = 0;
  while (stream.Next(&token)) ++n;
  return n;
}

// The sentence with whitespace runs collapsed and list / quote markers removed; "" when it is
// not answer material (a heading or a table row).
std::string CleanSentence(std::string_view s) {
  s = text::TrimSpace(s);
  if (s.starts_with('#') || s.starts_with('|') || s.starts_with("```")) return "";
  for (;;) {
    if (s.size() >= 2 && (s[0] == '-' || s[0] == '*' || s[0] == '+' || s[0] == '>') &&
        (s[1] == ' ' || s[1] == '\t')) {
      s = text::TrimSpace(s.substr(2));
    } else if (s.size() >= 1 && s[0] == '>') {
      s = text::TrimSpace(s.substr(1));
    } else {
      break;
    }
  }
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  bool pending_space = false;
  while (i < s.size()) {
    if (size_t n = text::SpaceLengthAt(s, i); n > 0) {
      pending_space = true;
      i += n;
      continue;
    }
    if (pending_space && !out.empty()) out += ' ';
    pending_space = false;
    out += s[i++];
  }
  return out;
}

// `s` cut to at most `max_bytes` at a word boundary, with "…" appended.
std::string CutAtWord(std::string_view s, size_t max_bytes) {
  constexpr std::string_view kEllipsis = "…";
  if (s.size() <= max_bytes) return std::string(s);
  size_t room = max_bytes > kEllipsis.size() ? max_bytes - kEllipsis.size() : 0;
  std::string_view cut = text::TruncateUtf8(s, room);
  if (size_t space = cut.rfind(' '); space != std::string_view::npos && space > room / 2) {
    cut = cut.substr(0, space);
  }
  while (!cut.empty() && (cut.back() == ' ' || cut.back() == ',' || cut.back() == ';')) {
    cut.remove_suffix(1);
  }
  return std::string(cut) + std::string(kEllipsis);
}

// The answer split into streamable tokens: each word with the whitespace before it.
std::vector<std::string_view> WordTokens(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && s[i] == ' ') ++i;
    while (i < s.size() && s[i] != ' ') ++i;
    out.push_back(s.substr(start, i - start));
  }
  return out;
}

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

Status ExtractiveOptions::Validate() const {
  if (max_answer_bytes < 64 || max_answer_bytes > 65536) {
    return Status(StatusCode::kInvalidArgument, "max_answer_bytes must be in 64..65536 (got " +
                                                    std::to_string(max_answer_bytes) + ")");
  }
  if (max_sentences < 1 || max_sentences > 20) {
    return Status(StatusCode::kInvalidArgument,
                  "max_sentences must be in 1..20 (got " + std::to_string(max_sentences) + ")");
  }
  if (!(min_relative_score >= 0 && min_relative_score <= 1)) {
    return Status(StatusCode::kInvalidArgument, "min_relative_score must be in 0..1");
  }
  if (no_answer.empty()) return Status(StatusCode::kInvalidArgument, "no_answer must not be empty");
  return Status::Ok();
}

ExtractiveClient::ExtractiveClient(ExtractiveOptions options)
    : options_(std::move(options)), metrics_(options_.metrics, "extractive") {}

Result<std::vector<ModelInfo>> ExtractiveClient::ListModels() {
  ModelInfo info;
  info.name = std::string(kModelName);
  info.details_json =
      R"({"family":"extractive","description":"answers from the knowledge base without a model"})";
  return std::vector<ModelInfo>{std::move(info)};
}

HealthReport ExtractiveClient::Health() {
  return {true, "extractive answers from the knowledge base (no model)"};
}

std::string ExtractiveClient::Answer(std::string_view query,
                                     const std::vector<Passage>& passages) const {
  const std::vector<std::string> query_terms = Terms(query);
  if (query_terms.empty() || passages.empty()) return options_.no_answer;

  // Candidate sentences that share at least one term with the query.
  std::vector<Candidate> candidates;
  std::unordered_set<std::string> seen;  // normalised sentences already taken
  for (size_t p = 0; p < passages.size(); ++p) {
    const std::string& body = passages[p].text;
    for (const text::SentenceSpan& span : text::SplitSentences(body)) {
      std::string_view raw = std::string_view(body).substr(span.begin, span.end - span.begin);
      std::string clean = CleanSentence(raw);
      if (clean.empty() || WordCount(clean) < kMinWords) continue;
      Candidate c;
      c.terms = Terms(clean);
      std::vector<std::string> shared;
      std::set_intersection(c.terms.begin(), c.terms.end(), query_terms.begin(), query_terms.end(),
                            std::back_inserter(shared));
      if (shared.empty()) continue;
      if (!seen.insert(text::Normalize(clean)).second) continue;
      c.terms = std::move(shared);
      c.passage = p;
      c.offset = span.begin;
      c.text = std::move(clean);
      candidates.push_back(std::move(c));
    }
  }
  if (candidates.empty()) return options_.no_answer;

  // Weights: rarer terms among the candidates count more.
  std::map<std::string, int> df;
  for (const Candidate& c : candidates) {
    for (const std::string& t : c.terms) ++df[t];
  }
  const double n = static_cast<double>(candidates.size());
  for (Candidate& c : candidates) {
    double sum = 0;
    for (const std::string& t : c.terms) sum += std::log(1.0 + n / df[t]);
    c.score = sum * (1.0 + kEarlyPassageBonus / (1.0 + static_cast<double>(c.passage)));
  }
  std::vector<const Candidate*> ranked;
  ranked.reserve(candidates.size());
  for (const Candidate& c : candidates) ranked.push_back(&c);
  std::stable_sort(ranked.begin(), ranked.end(), [](const Candidate* a, const Candidate* b) {
    return a->score > b->score;  // candidates are already in (passage, offset) order
  });

  struct Chosen {
    const Candidate* c;
    std::string text;
  };
  std::vector<Chosen> chosen;
  size_t used = 0;
  const double floor = ranked.front()->score * options_.min_relative_score;
  if (ranked.front()->text.size() > options_.max_answer_bytes) {
    // The best sentence alone is over the budget: it is the answer, cut.
    chosen.push_back({ranked.front(), CutAtWord(ranked.front()->text, options_.max_answer_bytes)});
  } else {
    for (const Candidate* c : ranked) {
      if (static_cast<int>(chosen.size()) >= options_.max_sentences || c->score < floor) break;
      size_t cost = c->text.size() + (chosen.empty() ? 0 : 1);
      if (used + cost > options_.max_answer_bytes) continue;
      used += cost;
      chosen.push_back({c, c->text});
    }
  }
  std::sort(chosen.begin(), chosen.end(), [](const Chosen& a, const Chosen& b) {
    return std::pair(a.c->passage, a.c->offset) < std::pair(b.c->passage, b.c->offset);
  });

  std::string answer;
  for (size_t i = 0; i < chosen.size(); ++i) {
    if (!answer.empty()) answer += ' ';
    answer += chosen[i].text;
    bool run_ends = i + 1 == chosen.size() || chosen[i + 1].c->passage != chosen[i].c->passage;
    if (run_ends) answer += " [" + std::to_string(passages[chosen[i].c->passage].n) + "]";
  }
  return answer;
}

Result<ChatResult> ExtractiveClient::Chat(const ChatRequest& request, const TokenCallback& on_token,
                                          const std::atomic<bool>* cancel) {
  const auto start = std::chrono::steady_clock::now();
  std::string_view query = request.query;
  if (text::TrimSpace(query).empty()) {
    for (auto it = request.messages.rbegin(); it != request.messages.rend(); ++it) {
      if (it->role == "user") {
        query = it->content;
        break;
      }
    }
  }
  ChatResult result;
  result.text = Answer(query, request.passages);
  result.model = std::string(kModelName);
  result.done_reason = "stop";
  for (std::string_view token : WordTokens(result.text)) {
    if (cancel != nullptr && cancel->load()) {
      metrics_.RecordOutcome("cancelled");
      return Error(StatusCode::kCancelled, "extractive answer cancelled");
    }
    if (result.completion_tokens == 0) result.time_to_first_token_ms = MsSince(start);
    ++result.completion_tokens;
    if (on_token && !on_token(token)) {
      metrics_.RecordOutcome("cancelled");
      return Error(StatusCode::kCancelled, "extractive answer cancelled by the token callback");
    }
  }
  result.total_ms = MsSince(start);
  if (result.completion_tokens == 0) result.time_to_first_token_ms = result.total_ms;
  metrics_.RecordOutcome("ok");
  metrics_.RecordAnswer(result.time_to_first_token_ms, result.total_ms, result.completion_tokens);
  return result;
}

}  // namespace jrvs::llm
