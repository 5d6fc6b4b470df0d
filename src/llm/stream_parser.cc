#include "llm/stream_parser.h"

#include <cstdint>
#include <utility>

#include <boost/json.hpp>

namespace jrvs::llm {
namespace {

namespace json = boost::json;

std::string StringField(const json::object& o, std::string_view key) {
  if (auto* v = o.if_contains(key); v != nullptr && v->is_string()) {
    return std::string(v->get_string());
  }
  return "";
}

// An integer field (JSON integer or integral double); `fallback` if absent or not a number.
int64_t IntField(const json::object& o, std::string_view key, int64_t fallback) {
  auto* v = o.if_contains(key);
  if (v == nullptr) return fallback;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return fallback;
}

// A few bytes of a bad line, for messages.
std::string Excerpt(std::string_view s) {
  constexpr size_t kMax = 80;
  return s.size() <= kMax ? std::string(s) : std::string(s.substr(0, kMax)) + "...";
}

// The message of an error value: {"message":...} or a plain string.
std::string ErrorMessage(const json::value& err) {
  if (err.is_string()) return std::string(err.get_string());
  if (err.is_object()) {
    if (std::string m = StringField(err.get_object(), "message"); !m.empty()) return m;
  }
  return json::serialize(err);
}

class OllamaStreamParser final : public StreamParser {
 public:
  Status Feed(std::string_view line, std::vector<StreamDelta>* out) override {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty() || finished_) return Status::Ok();
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) {
      return Status(StatusCode::kInternal, "malformed NDJSON line in the chat stream: '" +
                                               Excerpt(line) + "'" +
                                               (ec ? " (" + ec.message() + ")" : std::string()));
    }
    const json::object& o = v.get_object();
    if (auto* err = o.if_contains("error"); err != nullptr) {
      std::string message =
          err->is_string() ? std::string(err->get_string()) : json::serialize(*err);
      return Status(StatusCode::kUnavailable, "error in the chat stream: " + message);
    }
    if (std::string m = StringField(o, "model"); !m.empty()) model_ = std::move(m);
    if (auto* msg = o.if_contains("message"); msg != nullptr && msg->is_object()) {
      StreamDelta d;
      d.content = StringField(msg->get_object(), "content");
      d.output = !d.content.empty() || !StringField(msg->get_object(), "thinking").empty();
      if (d.output) out->push_back(std::move(d));
    }
    if (auto* done = o.if_contains("done");
        done != nullptr && done->is_bool() && done->get_bool()) {
      finished_ = true;
      done_reason_ = StringField(o, "done_reason");
      prompt_tokens_ = IntField(o, "prompt_eval_count", 0);
      completion_tokens_ = IntField(o, "eval_count", 0);
    }
    return Status::Ok();
  }

  Status End(std::vector<StreamDelta>*) override { return Status::Ok(); }
  bool finished() const override { return finished_; }

  void FillResult(ChatResult* result) const override {
    if (!model_.empty()) result->model = model_;
    result->done_reason = done_reason_.empty() ? "stop" : done_reason_;
    result->prompt_tokens = prompt_tokens_;
    result->completion_tokens = completion_tokens_;
  }

 private:
  bool finished_ = false;
  std::string model_;
  std::string done_reason_;
  int64_t prompt_tokens_ = 0;
  int64_t completion_tokens_ = 0;
};

// Server-Sent Events (the subset the chat API uses): "data:" lines are joined until a blank
// line ends the event; comments (":") and other fields are skipped, except "event: error".
class SseChatParser final : public StreamParser {
 public:
  Status Feed(std::string_view line, std::vector<StreamDelta>* out) override {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return Dispatch(out);
    if (line.front() == ':') return Status::Ok();
    std::string_view field = line.substr(0, line.find(':'));
    std::string_view value = field.size() < line.size() ? line.substr(field.size() + 1) : "";
    if (value.starts_with(' ')) value.remove_prefix(1);
    if (field == "data") {
      if (has_data_) data_ += '\n';
      data_ += value;
      has_data_ = true;
    } else if (field == "event") {
      event_ = std::string(value);
    }
    return Status::Ok();
  }

  Status End(std::vector<StreamDelta>* out) override { return Dispatch(out); }
  bool finished() const override { return done_ || !finish_reason_.empty(); }

  void FillResult(ChatResult* result) const override {
    if (!model_.empty()) result->model = model_;
    result->done_reason = finish_reason_.empty() ? "stop" : finish_reason_;
    result->prompt_tokens = prompt_tokens_;
    result->completion_tokens = completion_tokens_;
  }

 private:
  Status Dispatch(std::vector<StreamDelta>* out) {
    if (!has_data_) {
      event_.clear();
      return Status::Ok();
    }
    std::string data = std::move(data_);
    std::string event = std::move(event_);
    data_.clear();
    event_.clear();
    has_data_ = false;
    if (done_) return Status::Ok();
    if (data == "[DONE]") {
      done_ = true;
      return Status::Ok();
    }
    boost::system::error_code ec;
    json::value v = json::parse(data, ec);
    if (ec || !v.is_object()) {
      return Status(StatusCode::kInternal, "malformed SSE event in the chat stream: '" +
                                               Excerpt(data) + "'" +
                                               (ec ? " (" + ec.message() + ")" : std::string()));
    }
    const json::object& o = v.get_object();
    if (auto* err = o.if_contains("error"); err != nullptr) {
      return Status(StatusCode::kUnavailable, "error in the chat stream: " + ErrorMessage(*err));
    }
    if (event == "error") {
      return Status(StatusCode::kUnavailable, "error in the chat stream: " + Excerpt(data));
    }
    if (std::string m = StringField(o, "model"); !m.empty()) model_ = std::move(m);
    if (auto* usage = o.if_contains("usage"); usage != nullptr && usage->is_object()) {
      prompt_tokens_ = IntField(usage->get_object(), "prompt_tokens", prompt_tokens_);
      completion_tokens_ = IntField(usage->get_object(), "completion_tokens", completion_tokens_);
    }
    auto* choices = o.if_contains("choices");
    if (choices == nullptr || !choices->is_array() || choices->get_array().empty()) {
      return Status::Ok();
    }
    const json::value& choice = choices->get_array().front();
    if (!choice.is_object()) return Status::Ok();
    if (auto* delta = choice.get_object().if_contains("delta");
        delta != nullptr && delta->is_object()) {
      const json::object& d = delta->get_object();
      StreamDelta sd;
      sd.content = StringField(d, "content");
      sd.output = !sd.content.empty() || !StringField(d, "reasoning_content").empty() ||
                  !StringField(d, "reasoning").empty();
      if (sd.output) out->push_back(std::move(sd));
    }
    if (std::string reason = StringField(choice.get_object(), "finish_reason"); !reason.empty()) {
      finish_reason_ = std::move(reason);
    }
    return Status::Ok();
  }

  std::string data_;  // the current event's data lines, joined by "\n"
  bool has_data_ = false;
  std::string event_;  // the current event's type
  bool done_ = false;  // "[DONE]" seen
  std::string finish_reason_;
  std::string model_;
  int64_t prompt_tokens_ = 0;
  int64_t completion_tokens_ = 0;
};

}  // namespace

std::unique_ptr<StreamParser> NewOllamaStreamParser() {
  return std::make_unique<OllamaStreamParser>();
}

std::unique_ptr<StreamParser> NewOpenAiStreamParser() { return std::make_unique<SseChatParser>(); }

}  // namespace jrvs::llm
