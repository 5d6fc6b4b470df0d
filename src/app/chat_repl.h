// ChatRepl: the read-eval-print loop of `jrvs chat`, independent of the terminal so it can be
// tested: lines come from a LineReader, output goes to injected streams, answers and slash
// commands go to a ChatBackend (local or remote, app/chat_backend.h).
//
// A line starting with "/" is a command (ParseSlashCommand); "//text" sends "/text" as a
// message. Anything else is a message: the answer is printed as its tokens arrive, then its
// sources as "[n] title (url)". Setting `*interrupt` (the Ctrl-C handler does) stops an answer
// and returns to the prompt; a reader reporting kInterrupted twice in a row (Ctrl-C twice at the
// prompt), kEof (Ctrl-D) or /exit ends the loop.
//
// Colours: ANSI codes of the theme only when ChatReplOptions::color is true (the command turns it
// off when stdout is not a terminal, NO_COLOR is set or --no-color is given). Non-interactive mode
// (stdin not a terminal) prints no prompt, banner or timing line: only answers and command output.
//
// Thread safety: none; Run() on one thread. `interrupt` may be set from a signal handler.
#pragma once

#include <atomic>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/chat_backend.h"

namespace jrvs::app {

enum class SlashKind {
  kHelp,
  kModels,
  kModel,
  kSwitch,
  kSearch,
  kStats,
  kHistory,
  kClear,
  kTheme,
  kExit,
  kUnknown,  // not a known command: `name` says which
  kUsage,    // a known command with a bad argument: `error` says why
};

struct SlashCommand {
  SlashKind kind = SlashKind::kUnknown;
  std::string name;  // as typed, without the "/"
  std::string arg;   // trimmed rest of the line (for /history: the validated count, or "")
  std::string error;
};

// nullopt when `line` is not a command (no leading "/", or "//").
std::optional<SlashCommand> ParseSlashCommand(std::string_view line);

// An ANSI colour scheme; every field is a complete escape sequence or "".
struct Theme {
  std::string name;
  std::string prompt;
  std::string answer;
  std::string source;
  std::string info;
  std::string error;
  std::string accent;  // titles in /search, /models' current model
};

// "matrix", "cyberpunk" or "minimal"; nullopt for another name.
std::optional<Theme> ThemeByName(std::string_view name);
std::vector<std::string> ThemeNames();

class LineReader {
 public:
  enum class ReadStatus { kLine, kInterrupted, kEof };
  virtual ~LineReader() = default;
  // Reads one line (without its newline) into *line, showing `prompt` if the reader shows
  // prompts. `prompt` may hold escape sequences bracketed by \1 and \2 (readline's markers for
  // "takes no columns").
  virtual ReadStatus ReadLine(const std::string& prompt, std::string* line) = 0;
  // Remembers a submitted line for recall (and the history file), if the reader has history.
  virtual void AddHistory(const std::string& line) { (void)line; }
};

// Plain lines from a stream, no prompt, no history: for piped input and tests.
class StreamLineReader : public LineReader {
 public:
  explicit StreamLineReader(std::istream& in) : in_(in) {}
  ReadStatus ReadLine(const std::string& prompt, std::string* line) override;

 private:
  std::istream& in_;
};

struct ChatReplOptions {
  std::string session_id;          // required: the session every turn of the run goes to
  std::string theme = "matrix";    // initial theme (ThemeByName)
  bool color = false;              // emit ANSI colour codes
  bool interactive = false;        // a person at a terminal: prompt, banner, timings
  bool clear_screen = false;       // /clear also clears the screen (stdout is a terminal)
  int history_default_turns = 10;  // /history without n
  int search_limit = 5;            // results shown by /search
};

class ChatRepl {
 public:
  // `interrupt` (may be null) is reset before each answer and polled while it streams.
  ChatRepl(ChatBackend& backend, LineReader& reader, std::ostream& out, ChatReplOptions options,
           std::atomic<bool>* interrupt);

  // Runs until /exit, end of input or a double interrupt. Returns the process exit code (0).
  int Run();

  // Handles one submitted line; false when it asked to exit.
  bool HandleLine(std::string_view line);

  const std::string& session_id() const { return options_.session_id; }
  const Theme& theme() const { return theme_; }

 private:
  void Ask(std::string_view message);
  bool RunCommand(const SlashCommand& command);
  void PrintHelp();
  void Models();
  void Search(const std::string& query);
  void Stats();
  void History(int turns);
  void Clear();
  // `text` in the colour `code` (when colours are on), no newline.
  std::string Paint(const std::string& code, std::string_view text) const;
  void Info(std::string_view text);
  void Fail(std::string_view what, const Status& status);

  ChatBackend& backend_;
  LineReader& reader_;
  std::ostream& out_;
  ChatReplOptions options_;
  std::atomic<bool>* interrupt_;
  Theme theme_;
};

}  // namespace jrvs::app
