// Parsers of the streamed chat answers, one line of the response body at a time:
//   Ollama NDJSON: one JSON object per line; {"message":{"content","thinking"?}} per token, a
//     final {"done":true,"done_reason","prompt_eval_count","eval_count"}; {"error":"..."} is a
//     server error. Blank lines are skipped; lines after the final one are ignored.
//   OpenAI Server-Sent Events: "data:" lines joined with "\n" until a blank line ends the event
//     (or the body ends); comments (":...") and other fields are skipped. "data: [DONE]" ends
//     the stream; choices[0].delta.content is a token, delta.reasoning_content / reasoning is
//     reasoning output; choices[0].finish_reason also completes the stream; a "usage" object
//     gives token counts; {"error":...} or "event: error" is a server error.
// A malformed line or event is kInternal; an error reported in the stream is kUnavailable.
//
// Thread safety: a parser belongs to one call on one thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "llm/llm_client.h"

namespace jrvs::llm {

// One piece of model output parsed from the stream.
struct StreamDelta {
  std::string content;  // answer text to deliver; may be empty
  bool output = false;  // the model produced something (content or reasoning): resets timers
};

// Parses one attempt's response stream, line by line. One instance per attempt, one thread.
class StreamParser {
 public:
  virtual ~StreamParser() = default;
  // One line of the body (without the newline). Appends what it carried to *out. A malformed
  // line is kInternal; an error reported by the server in the stream is kUnavailable.
  virtual Status Feed(std::string_view line, std::vector<StreamDelta>* out) = 0;
  // The body ended: handles anything pending (e.g. an SSE event without its blank line).
  virtual Status End(std::vector<StreamDelta>* out) = 0;
  // True once the protocol's final message was seen.
  virtual bool finished() const = 0;
  // Copies what the stream reported into *result: model (left alone if none), done_reason
  // ("stop" if none), prompt and completion token counts (0 if none).
  virtual void FillResult(ChatResult* result) const = 0;
};

std::unique_ptr<StreamParser> NewOllamaStreamParser();
std::unique_ptr<StreamParser> NewOpenAiStreamParser();

}  // namespace jrvs::llm
