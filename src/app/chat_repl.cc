#include "app/chat_repl.h"

#include <cctype>
#include <charconv>
#include <istream>
#include <ostream>

#include <fmt/format.h>

#include "api/chat_api.h"
#include "core/text.h"

namespace jrvs::app {

namespace {

using text::TrimSpace;
using text::TruncateUtf8;

constexpr std::string_view kReset = "\x1b[0m";
constexpr int kMaxHistoryTurns = 1000;  // the server's default history.max_limit
constexpr size_t kHistoryPreviewBytes = 300;

// One line of a possibly multi-line text, shortened for listings.
std::string OneLine(std::string_view text, size_t max_bytes) {
  std::string out;
  for (char c : TrimSpace(text)) out.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
  if (out.size() > max_bytes) {
    out = std::string(TruncateUtf8(out, max_bytes));
    out += "...";
  }
  return out;
}

}  // namespace

std::optional<SlashCommand> ParseSlashCommand(std::string_view line) {
  line = TrimSpace(line);
  if (!line.starts_with('/') || line.starts_with("//")) return std::nullopt;
  SlashCommand cmd;
  size_t space = line.find_first_of(" \t");
  cmd.name = std::string(line.substr(1, space == std::string_view::npos ? line.npos : space - 1));
  if (space != std::string_view::npos) cmd.arg = std::string(TrimSpace(line.substr(space)));
  for (char& c : cmd.name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));

  const std::string& n = cmd.name;
  auto usage = [&cmd](std::string error) {
    cmd.kind = SlashKind::kUsage;
    cmd.error = std::move(error);
    return cmd;
  };
  if (n == "help" || n == "?") {
    cmd.kind = SlashKind::kHelp;
  } else if (n == "models") {
    cmd.kind = SlashKind::kModels;
  } else if (n == "model") {
    cmd.kind = SlashKind::kModel;
  } else if (n == "switch") {
    if (cmd.arg.empty()) return usage("usage: /switch <model>");
    cmd.kind = SlashKind::kSwitch;
  } else if (n == "search") {
    if (cmd.arg.empty()) return usage("usage: /search <query>");
    cmd.kind = SlashKind::kSearch;
  } else if (n == "stats") {
    cmd.kind = SlashKind::kStats;
  } else if (n == "history") {
    if (!cmd.arg.empty()) {
      int turns = 0;
      auto [end, ec] = std::from_chars(cmd.arg.data(), cmd.arg.data() + cmd.arg.size(), turns);
      if (ec != std::errc() || end != cmd.arg.data() + cmd.arg.size() || turns < 1 ||
          turns > kMaxHistoryTurns) {
        return usage(fmt::format("usage: /history [n]  (n from 1 to {})", kMaxHistoryTurns));
      }
    }
    cmd.kind = SlashKind::kHistory;
  } else if (n == "clear") {
    cmd.kind = SlashKind::kClear;
  } else if (n == "theme") {
    if (!ThemeByName(cmd.arg)) {
      std::string names;
      for (const auto& t : ThemeNames()) names += (names.empty() ? "" : "|") + t;
      return usage(fmt::format("usage: /theme {}", names));
    }
    cmd.kind = SlashKind::kTheme;
  } else if (n == "exit" || n == "quit") {
    cmd.kind = SlashKind::kExit;
  } else {
    cmd.kind = SlashKind::kUnknown;
  }
  return cmd;
}

std::vector<std::string> ThemeNames() { return {"matrix", "cyberpunk", "minimal"}; }

std::optional<Theme> ThemeByName(std::string_view name) {
  // SGR codes: 1 bold, 2 dim, 3x/9x foreground (normal/bright): green 32, magenta 35/95,
  // cyan 96, yellow 93, red 31/91.
  if (name == "matrix") {
    return Theme{"matrix",     "\x1b[1;32m", "\x1b[32m",  "\x1b[2;32m",
                 "\x1b[2;32m", "\x1b[1;31m", "\x1b[1;92m"};
  }
  if (name == "cyberpunk") {
    return Theme{"cyberpunk", "\x1b[1;95m", "\x1b[96m",  "\x1b[93m",
                 "\x1b[35m",  "\x1b[1;91m", "\x1b[1;93m"};
  }
  if (name == "minimal") {
    return Theme{"minimal", "\x1b[1m", "", "\x1b[2m", "\x1b[2m", "\x1b[31m", "\x1b[1m"};
  }
  return std::nullopt;
}

LineReader::ReadStatus StreamLineReader::ReadLine(const std::string& prompt, std::string* line) {
  (void)prompt;  // piped input gets no prompt
  if (!std::getline(in_, *line)) return ReadStatus::kEof;
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return ReadStatus::kLine;
}

ChatRepl::ChatRepl(ChatBackend& backend, LineReader& reader, std::ostream& out,
                   ChatReplOptions options, std::atomic<bool>* interrupt)
    : backend_(backend),
      reader_(reader),
      out_(out),
      options_(std::move(options)),
      interrupt_(interrupt),
      theme_(ThemeByName(options_.theme).value_or(*ThemeByName("matrix"))) {}

std::string ChatRepl::Paint(const std::string& code, std::string_view text) const {
  if (!options_.color || code.empty()) return std::string(text);
  return fmt::format("{}{}{}", code, text, kReset);
}

void ChatRepl::Info(std::string_view text) { out_ << Paint(theme_.info, text) << "\n"; }

void ChatRepl::Fail(std::string_view what, const Status& status) {
  out_ << Paint(theme_.error, fmt::format("{}: {}", what, status.message())) << "\n";
}

int ChatRepl::Run() {
  if (options_.interactive) {
    out_ << Paint(theme_.accent, "jrvs chat") << " "
         << Paint(theme_.info, fmt::format("· {} · session {} · /help for commands",
                                           backend_.description(), options_.session_id))
         << "\n";
  }
  bool interrupted_last = false;
  std::string line;
  while (true) {
    std::string prompt;
    if (options_.interactive) {
      // \1 and \2 tell the line editor the escape codes take no columns.
      prompt = options_.color && !theme_.prompt.empty()
                   ? fmt::format("\1{}\2you>\1{}\2 ", theme_.prompt, kReset)
                   : "you> ";
    }
    if (interrupt_ != nullptr) interrupt_->store(false);
    auto status = reader_.ReadLine(prompt, &line);
    if (status == LineReader::ReadStatus::kEof) {
      if (options_.interactive) out_ << "\n";
      break;
    }
    if (status == LineReader::ReadStatus::kInterrupted) {
      if (interrupted_last) break;
      interrupted_last = true;
      if (options_.interactive) Info("(Ctrl-C again or Ctrl-D to exit)");
      continue;
    }
    interrupted_last = false;
    if (!TrimSpace(line).empty()) reader_.AddHistory(line);
    if (!HandleLine(line)) break;
  }
  out_.flush();
  return 0;
}

bool ChatRepl::HandleLine(std::string_view line) {
  std::string_view trimmed = TrimSpace(line);
  if (trimmed.empty()) return true;
  if (auto command = ParseSlashCommand(trimmed)) return RunCommand(*command);
  if (trimmed.starts_with("//")) trimmed.remove_prefix(1);
  Ask(trimmed);
  return true;
}

void ChatRepl::Ask(std::string_view message) {
  if (interrupt_ != nullptr) interrupt_->store(false);
  bool streamed = false;
  char last = '\n';
  const bool paint = options_.color && !theme_.answer.empty();
  auto on_token = [&](std::string_view token) {
    if (interrupt_ != nullptr && interrupt_->load()) return false;
    if (token.empty()) return true;
    if (!streamed && paint) out_ << theme_.answer;
    streamed = true;
    out_ << token;
    out_.flush();
    last = token.back();
    return true;
  };
  auto reply = backend_.Chat(message, options_.session_id, on_token, interrupt_);
  if (streamed && paint) out_ << kReset;
  if (!reply) {
    if (last != '\n') out_ << "\n";
    if (reply.error().code() == StatusCode::kCancelled) {
      Info("(answer stopped)");
    } else {
      Fail("error", reply.error());
    }
    return;
  }
  if (!streamed && !reply->response.empty()) {  // a backend that did not stream
    out_ << Paint(theme_.answer, reply->response);
    last = reply->response.back();
  }
  if (last != '\n') out_ << "\n";
  for (const auto& s : reply->sources) {
    std::string entry = fmt::format("[{}] {}", s.n, s.title.empty() ? "(untitled)" : s.title);
    if (!s.url.empty()) entry += fmt::format(" ({})", s.url);
    out_ << Paint(theme_.source, entry) << "\n";
  }
  if (!reply->warning.empty()) Info(fmt::format("note: {}", reply->warning));
  if (options_.interactive) {
    Info(fmt::format("({} · {:.0f} ms)", reply->model_used, reply->total_ms));
  }
  out_.flush();
}

bool ChatRepl::RunCommand(const SlashCommand& command) {
  switch (command.kind) {
    case SlashKind::kHelp:
      PrintHelp();
      break;
    case SlashKind::kModels:
      Models();
      break;
    case SlashKind::kModel:
      if (auto model = backend_.CurrentModel()) {
        out_ << "current model: " << Paint(theme_.accent, *model) << "\n";
      } else {
        Fail("model", model.error());
      }
      break;
    case SlashKind::kSwitch:
      if (auto current = backend_.SwitchModel(command.arg)) {
        out_ << "switched to " << Paint(theme_.accent, *current) << "\n";
      } else {
        Fail("switch", current.error());
      }
      break;
    case SlashKind::kSearch:
      Search(command.arg);
      break;
    case SlashKind::kStats:
      Stats();
      break;
    case SlashKind::kHistory:
      History(command.arg.empty() ? options_.history_default_turns : std::stoi(command.arg));
      break;
    case SlashKind::kClear:
      Clear();
      break;
    case SlashKind::kTheme:
      theme_ = *ThemeByName(command.arg);
      Info(fmt::format("theme: {}", theme_.name));
      break;
    case SlashKind::kExit:
      return false;
    case SlashKind::kUsage:
      Info(command.error);
      break;
    case SlashKind::kUnknown:
      Info(fmt::format("unknown command /{}; /help lists the commands", command.name));
      break;
  }
  out_.flush();
  return true;
}

void ChatRepl::PrintHelp() {
  static constexpr std::pair<std::string_view, std::string_view> kCommands[] = {
      {"/help", "this list"},
      {"/models", "models the server offers (* = current)"},
      {"/model", "the current model"},
      {"/switch <model>", "answer with another model (a unique prefix is enough)"},
      {"/search <query>", "search the knowledge base"},
      {"/stats", "knowledge-base and conversation figures"},
      {"/history [n]", "the last n turns of this session (default 10)"},
      {"/clear", "forget this session's history (and clear the screen)"},
      {"/theme <name>", "colours: matrix, cyberpunk or minimal"},
      {"/exit, /quit", "leave (also Ctrl-D)"},
  };
  for (const auto& [name, what] : kCommands) {
    out_ << Paint(theme_.accent, fmt::format("{:<17}", name)) << " " << what << "\n";
  }
  Info("Anything else is a question. Ctrl-C stops an answer; \"//text\" sends \"/text\".");
}

void ChatRepl::Models() {
  auto list = backend_.Models();
  if (!list) return Fail("models", list.error());
  if (!list->warning.empty()) Info(list->warning);
  for (const auto& m : list->models) {
    if (m.current) {
      out_ << "* " << Paint(theme_.accent, m.name) << "\n";
    } else {
      out_ << "  " << m.name << "\n";
    }
  }
  if (list->models.empty()) Info(fmt::format("current model: {}", list->current));
}

void ChatRepl::Search(const std::string& query) {
  auto hits = backend_.Search(query, options_.search_limit);
  if (!hits) return Fail("search", hits.error());
  if (hits->empty()) return Info("no results");
  int i = 0;
  for (const auto& h : *hits) {
    std::string head = fmt::format("{}. {}", ++i, h.title.empty() ? "(untitled)" : h.title);
    out_ << Paint(theme_.accent, head)
         << Paint(theme_.info, fmt::format("  score {:.3f}", h.score));
    if (!h.url.empty()) out_ << Paint(theme_.source, fmt::format("  {}", h.url));
    out_ << "\n   " << OneLine(h.preview, 200) << "\n";
  }
}

void ChatRepl::Stats() {
  auto rows = backend_.Stats();
  if (!rows) return Fail("stats", rows.error());
  for (const auto& [label, value] : *rows) {
    out_ << fmt::format("{:<20} ", label) << Paint(theme_.accent, value) << "\n";
  }
}

void ChatRepl::History(int turns) {
  auto history = backend_.History(options_.session_id, turns);
  if (!history) return Fail("history", history.error());
  if (history->empty()) return Info("no turns in this session yet");
  for (const auto& t : *history) {
    out_ << Paint(theme_.prompt, "you: ") << OneLine(t.user_message, kHistoryPreviewBytes) << "\n";
    out_ << Paint(theme_.accent, "jrvs: ")
         << Paint(theme_.answer, OneLine(t.ai_response, kHistoryPreviewBytes)) << "\n";
  }
}

void ChatRepl::Clear() {
  auto deleted = backend_.ClearHistory(options_.session_id);
  if (!deleted) return Fail("clear", deleted.error());
  if (options_.clear_screen) out_ << "\x1b[H\x1b[2J";  // home, erase screen
  Info(fmt::format("cleared {} turns of session {}", *deleted, options_.session_id));
}

}  // namespace jrvs::app
