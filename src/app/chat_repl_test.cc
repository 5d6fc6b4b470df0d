// ChatRepl and the JSON half of the chat backends, without a terminal: lines from a string, output
// to a string, a fake backend at the ChatBackend seam (and a canned-reply ApiChatBackend for the
// JSON parsing both real backends share).
#include "app/chat_repl.h"

#include <gtest/gtest.h>

#include <deque>
#include <sstream>

namespace jrvs::app {
namespace {

TEST(ParseSlashCommand, PlainTextAndDoubleSlashAreMessages) {
  EXPECT_FALSE(ParseSlashCommand("how do bees dance?"));
  EXPECT_FALSE(ParseSlashCommand("//etc/passwd is a path"));
  EXPECT_FALSE(ParseSlashCommand(""));
}

TEST(ParseSlashCommand, KnownCommandsWithArguments) {
  EXPECT_EQ(ParseSlashCommand("/help")->kind, SlashKind::kHelp);
  EXPECT_EQ(ParseSlashCommand("  /MODELS ")->kind, SlashKind::kModels);
  EXPECT_EQ(ParseSlashCommand("/model")->kind, SlashKind::kModel);
  auto sw = ParseSlashCommand("/switch   llama3.2:1b ");
  EXPECT_EQ(sw->kind, SlashKind::kSwitch);
  EXPECT_EQ(sw->arg, "llama3.2:1b");
  auto search = ParseSlashCommand("/search waggle dance");
  EXPECT_EQ(search->kind, SlashKind::kSearch);
  EXPECT_EQ(search->arg, "waggle dance");
  EXPECT_EQ(ParseSlashCommand("/stats")->kind, SlashKind::kStats);
  EXPECT_EQ(ParseSlashCommand("/history")->kind, SlashKind::kHistory);
  auto history = ParseSlashCommand("/history 3");
  EXPECT_EQ(history->kind, SlashKind::kHistory);
  EXPECT_EQ(history->arg, "3");
  EXPECT_EQ(ParseSlashCommand("/clear")->kind, SlashKind::kClear);
  EXPECT_EQ(ParseSlashCommand("/theme minimal")->kind, SlashKind::kTheme);
  EXPECT_EQ(ParseSlashCommand("/exit")->kind, SlashKind::kExit);
  EXPECT_EQ(ParseSlashCommand("/quit")->kind, SlashKind::kExit);
}

TEST(ParseSlashCommand, BadArgumentsAndUnknownCommands) {
  for (const char* line : {"/switch", "/search  ", "/history x", "/history 0", "/history 3x",
                           "/history 100000", "/theme", "/theme solarized"}) {
    auto cmd = ParseSlashCommand(line);
    ASSERT_TRUE(cmd) << line;
    EXPECT_EQ(cmd->kind, SlashKind::kUsage) << line;
    EXPECT_NE(cmd->error.find("usage: /"), std::string::npos) << line;
  }
  auto unknown = ParseSlashCommand("/frobnicate now");
  EXPECT_EQ(unknown->kind, SlashKind::kUnknown);
  EXPECT_EQ(unknown->name, "frobnicate");
}

TEST(Themes, EachNamedThemeHasColours) {
  for (const auto& name : ThemeNames()) {
    auto theme = ThemeByName(name);
    ASSERT_TRUE(theme) << name;
    EXPECT_EQ(theme->name, name);
    EXPECT_NE(theme->prompt.find("\x1b["), std::string::npos) << name;
  }
  EXPECT_FALSE(ThemeByName("solarized"));
  EXPECT_NE(ThemeByName("matrix")->answer, ThemeByName("cyberpunk")->answer);
}

// A backend that answers from fields set by the test and records what it was asked.
class FakeBackend : public ChatBackend {
 public:
  std::string description() const override { return "fake"; }

  Result<ChatReply> Chat(std::string_view message, std::string_view session_id,
                         const TokenSink& on_token, const std::atomic<bool>* cancel) override {
    messages.emplace_back(message);
    sessions.emplace_back(session_id);
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i == interrupt_after && interrupt != nullptr) interrupt->store(true);  // "Ctrl-C"
      if ((cancel != nullptr && cancel->load()) || !on_token(tokens[i])) {
        return Error(StatusCode::kCancelled, "cancelled");
      }
    }
    ChatReply reply;
    for (const auto& t : tokens) reply.response += t;
    reply.session_id = std::string(session_id);
    reply.model_used = "fake-model";
    reply.sources = sources;
    reply.warning = warning;
    return reply;
  }
  Result<ModelList> Models() override {
    return ModelList{{{"alpha", false}, {"beta", true}}, "beta", ""};
  }
  Result<std::string> CurrentModel() override { return std::string("beta"); }
  Result<std::string> SwitchModel(std::string_view name) override {
    if (name != "alpha") return Error(StatusCode::kInvalidArgument, "no model named 'nope'");
    return std::string("alpha");
  }
  Result<std::vector<SearchHit>> Search(std::string_view query, int limit) override {
    searches.emplace_back(query);
    search_limit = limit;
    return std::vector<SearchHit>{{"Bees", "https://example.org/bees", 0.875, "Honey bees\ndance"}};
  }
  Result<std::vector<std::pair<std::string, std::string>>> Stats() override {
    return std::vector<std::pair<std::string, std::string>>{{"documents", "3"}};
  }
  Result<std::vector<HistoryTurn>> History(std::string_view session_id, int limit) override {
    history_session = std::string(session_id);
    history_limit = limit;
    return std::vector<HistoryTurn>{{"first question", "first answer", "fake-model"}};
  }
  Result<int64_t> ClearHistory(std::string_view session_id) override {
    cleared.emplace_back(session_id);
    if (!clear_error.ok()) return Error(clear_error);
    return int64_t{2};
  }

  std::vector<std::string> tokens = {"Bees", " dance", " [1]."};
  std::vector<ChatSource> sources = {{1, "Bees", "https://example.org/bees"}, {2, "Notes", ""}};
  std::string warning;
  size_t interrupt_after = SIZE_MAX;
  std::atomic<bool>* interrupt = nullptr;
  Status clear_error;

  std::vector<std::string> messages, sessions, searches, cleared;
  int search_limit = 0;
  std::string history_session;
  int history_limit = 0;
};

struct ReplRun {
  std::string output;
  int exit_code = -1;
};

ReplRun RunRepl(FakeBackend& backend, const std::string& input, ChatReplOptions options = {},
                std::atomic<bool>* interrupt = nullptr) {
  if (options.session_id.empty()) options.session_id = "s1";
  std::istringstream in(input);
  std::ostringstream out;
  StreamLineReader reader(in);
  ChatRepl repl(backend, reader, out, options, interrupt);
  int code = repl.Run();
  return {out.str(), code};
}

TEST(ChatRepl, StreamsTheAnswerThenListsSources) {
  FakeBackend backend;
  auto run = RunRepl(backend, "How do bees communicate?\n");
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.output,
            "Bees dance [1].\n"
            "[1] Bees (https://example.org/bees)\n"
            "[2] Notes\n");
  ASSERT_EQ(backend.messages.size(), 1u);
  EXPECT_EQ(backend.messages[0], "How do bees communicate?");
}

TEST(ChatRepl, EveryTurnGoesToTheSameSession) {
  FakeBackend backend;
  ChatReplOptions options;
  options.session_id = "resume-me";
  RunRepl(backend, "one\n\n   \ntwo\n//three\n", options);
  EXPECT_EQ(backend.messages, (std::vector<std::string>{"one", "two", "/three"}));
  EXPECT_EQ(backend.sessions, (std::vector<std::string>{"resume-me", "resume-me", "resume-me"}));
}

TEST(ChatRepl, NoEscapeCodesWithoutColourAndThemeCodesWithIt) {
  FakeBackend backend;
  backend.warning = "the model was down";
  std::string input = "q\n/models\n/search bees\n/history\n/theme cyberpunk\nq\n";
  auto plain = RunRepl(backend, input);
  EXPECT_EQ(plain.output.find('\x1b'), std::string::npos) << plain.output;
  EXPECT_NE(plain.output.find("note: the model was down"), std::string::npos);

  ChatReplOptions options;
  options.color = true;
  auto colored = RunRepl(backend, input, options);
  EXPECT_NE(colored.output.find(ThemeByName("matrix")->answer + "Bees"), std::string::npos);
  EXPECT_NE(colored.output.find(ThemeByName("cyberpunk")->answer + "Bees"), std::string::npos)
      << "the theme switched for the rest of the run";
}

TEST(ChatRepl, ModelCommands) {
  FakeBackend backend;
  auto run = RunRepl(backend, "/models\n/model\n/switch nope\n/switch alpha\n");
  EXPECT_NE(run.output.find("  alpha\n* beta\n"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("current model: beta"), std::string::npos);
  EXPECT_NE(run.output.find("switch: no model named 'nope'"), std::string::npos);
  EXPECT_NE(run.output.find("switched to alpha"), std::string::npos);
}

TEST(ChatRepl, SearchStatsAndHistory) {
  FakeBackend backend;
  ChatReplOptions options;
  options.search_limit = 7;
  auto run = RunRepl(backend, "/search waggle dance\n/stats\n/history 2\n/history\n", options);
  EXPECT_EQ(backend.searches, std::vector<std::string>{"waggle dance"});
  EXPECT_EQ(backend.search_limit, 7);
  EXPECT_NE(
      run.output.find("1. Bees  score 0.875  https://example.org/bees\n   Honey bees dance\n"),
      std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("documents"), std::string::npos);
  EXPECT_NE(run.output.find("you: first question\njrvs: first answer\n"), std::string::npos);
  EXPECT_EQ(backend.history_session, "s1");
  EXPECT_EQ(backend.history_limit, 10) << "the last /history had no n";
}

TEST(ChatRepl, UnknownCommandsAndBadUsageGiveHintsAndContinue) {
  FakeBackend backend;
  auto run = RunRepl(backend, "/frobnicate\n/history zero\n/help\nstill here\n");
  EXPECT_NE(run.output.find("unknown command /frobnicate; /help lists the commands"),
            std::string::npos);
  EXPECT_NE(run.output.find("usage: /history [n]"), std::string::npos);
  EXPECT_NE(run.output.find("/switch <model>"), std::string::npos) << "help lists commands";
  EXPECT_EQ(backend.messages, std::vector<std::string>{"still here"});
}

TEST(ChatRepl, ExitAndQuitStopReading) {
  FakeBackend backend;
  RunRepl(backend, "first\n/exit\nnever asked\n");
  EXPECT_EQ(backend.messages, std::vector<std::string>{"first"});
  FakeBackend backend2;
  RunRepl(backend2, "/quit\nnever asked\n");
  EXPECT_TRUE(backend2.messages.empty());
}

TEST(ChatRepl, InterruptStopsTheAnswerAndReturnsToThePrompt) {
  FakeBackend backend;
  std::atomic<bool> interrupt{false};
  backend.interrupt = &interrupt;
  backend.interrupt_after = 1;  // after "Bees", before " dance"
  auto run = RunRepl(backend, "first\nsecond\n", {}, &interrupt);
  EXPECT_EQ(backend.messages.size(), 2u) << "the REPL went on after the stopped answer";
  EXPECT_EQ(run.output.find("Bees dance"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("Bees\n(answer stopped)\n"), std::string::npos) << run.output;
}

// Replays a fixed sequence of reader outcomes.
class ScriptedReader : public LineReader {
 public:
  explicit ScriptedReader(std::deque<std::pair<ReadStatus, std::string>> script)
      : script_(std::move(script)) {}
  ReadStatus ReadLine(const std::string& prompt, std::string* line) override {
    prompts.push_back(prompt);
    if (script_.empty()) return ReadStatus::kEof;
    auto [status, text] = script_.front();
    script_.pop_front();
    *line = text;
    return status;
  }
  void AddHistory(const std::string& line) override { history.push_back(line); }
  std::vector<std::string> prompts, history;

 private:
  std::deque<std::pair<ReadStatus, std::string>> script_;
};

TEST(ChatRepl, OneCtrlCAtThePromptClearsTwoExit) {
  using RS = LineReader::ReadStatus;
  FakeBackend backend;
  ScriptedReader reader({{RS::kInterrupted, ""},
                         {RS::kLine, "asked"},
                         {RS::kInterrupted, ""},
                         {RS::kInterrupted, ""},
                         {RS::kLine, "never asked"}});
  std::ostringstream out;
  ChatReplOptions options;
  options.session_id = "s1";
  options.interactive = true;
  ChatRepl repl(backend, reader, out, options, nullptr);
  EXPECT_EQ(repl.Run(), 0);
  EXPECT_EQ(backend.messages, std::vector<std::string>{"asked"});
  EXPECT_EQ(reader.history, std::vector<std::string>{"asked"});
  EXPECT_NE(out.str().find("(Ctrl-C again or Ctrl-D to exit)"), std::string::npos);
  EXPECT_NE(out.str().find("session s1"), std::string::npos) << "interactive banner";
  EXPECT_EQ(reader.prompts.front(), "you> ");
  EXPECT_NE(out.str().find("(fake-model"), std::string::npos) << "interactive timing line";
}

TEST(ChatRepl, ClearDeletesThisSession) {
  FakeBackend backend;
  auto run = RunRepl(backend, "/clear\n");
  EXPECT_EQ(backend.cleared, std::vector<std::string>{"s1"});
  EXPECT_NE(run.output.find("cleared 2 turns of session s1"), std::string::npos);

  FakeBackend failing;
  failing.clear_error = Status(StatusCode::kUnavailable, "server gone");
  auto run2 = RunRepl(failing, "/clear\nafter\n");
  EXPECT_NE(run2.output.find("server gone"), std::string::npos);
  ASSERT_EQ(failing.sessions.size(), 1u);
  EXPECT_EQ(failing.sessions[0], "s1") << "a failed clear keeps the session";
}

TEST(ChatRepl, BackendErrorsArePrintedNotFatal) {
  class Failing : public FakeBackend {
    Result<ChatReply> Chat(std::string_view, std::string_view, const TokenSink&,
                           const std::atomic<bool>*) override {
      return Error(StatusCode::kUnavailable, "model server down");
    }
  } backend;
  auto run = RunRepl(backend, "hi\n/stats\n");
  EXPECT_NE(run.output.find("error: model server down\n"), std::string::npos);
  EXPECT_NE(run.output.find("documents"), std::string::npos);
}

// The JSON half shared by the local and remote backends, on canned replies.
class CannedApi : public ApiChatBackend {
 public:
  std::string description() const override { return "canned"; }
  Result<ChatReply> Chat(std::string_view, std::string_view, const TokenSink&,
                         const std::atomic<bool>*) override {
    return Error(StatusCode::kInternal, "unused");
  }
  std::map<std::string, ApiReply> replies;  // by "METHOD path"
  std::vector<ApiCall> calls;

 protected:
  Result<ApiReply> Call(const ApiCall& call) override {
    calls.push_back(call);
    auto it = replies.find(call.method + " " + call.path);
    if (it == replies.end()) return Error(StatusCode::kUnavailable, "connection refused");
    return it->second;
  }
};

TEST(ApiChatBackend, ParsesTheApiShapes) {
  CannedApi api;
  api.replies["GET /api/models"] = {
      200, R"({"models":[{"name":"a"},{"name":"b"}],"current":"b","warning":"w"})"};
  api.replies["GET /api/search"] = {
      200, R"({"results":[{"title":"T","url":null,"similarity":0.5,"preview":"p"}]})"};
  api.replies["GET /api/history/my%20s"] = {
      200, R"({"history":[{"user_message":"u","ai_response":"a","model_used":"m"}]})"};
  api.replies["POST /api/models/switch/x%2Fy"] = {
      400, R"({"error":{"code":"invalid_argument","message":"no model named 'x/y'"}})"};
  api.replies["GET /api/stats"] = {
      200, R"({"documents":3,"chunks":9,"vector_store":{"total_vectors":9,"index_type":"flat"},)"
           R"("database_size_bytes":2048,"model":"m1"})"};

  auto models = api.Models();
  ASSERT_TRUE(models);
  ASSERT_EQ(models->models.size(), 2u);
  EXPECT_FALSE(models->models[0].current);
  EXPECT_TRUE(models->models[1].current);
  EXPECT_EQ(models->warning, "w");

  auto hits = api.Search("bees & wasps", 3);
  ASSERT_TRUE(hits);
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].url, "");
  EXPECT_DOUBLE_EQ((*hits)[0].score, 0.5);
  EXPECT_EQ(api.calls.back().query, (std::vector<std::pair<std::string, std::string>>{
                                        {"query", "bees & wasps"}, {"limit", "3"}}));

  auto history = api.History("my s", 4);
  ASSERT_TRUE(history);
  EXPECT_EQ((*history)[0].ai_response, "a");
  EXPECT_EQ(api.calls.back().route, "/api/history/{session_id}");
  EXPECT_EQ(api.calls.back().path_params.at("session_id"), "my s");

  auto sw = api.SwitchModel("x/y");
  ASSERT_FALSE(sw);
  EXPECT_EQ(sw.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(sw.error().message(), "no model named 'x/y'");

  auto model = api.CurrentModel();
  ASSERT_TRUE(model);
  EXPECT_EQ(*model, "m1");
  auto stats = api.Stats();
  ASSERT_TRUE(stats);
  bool saw_size = false;
  for (const auto& [label, value] : *stats) {
    if (label == "database size") saw_size = value == "2.0 KiB";
  }
  EXPECT_TRUE(saw_size);

  auto cleared = api.ClearHistory("s1");
  ASSERT_FALSE(cleared);
  EXPECT_EQ(cleared.error().code(), StatusCode::kUnavailable) << "transport errors pass through";
}

TEST(ApiChatBackend, ChatReplyAndErrorBodies) {
  auto reply = ParseChatReply(
      R"({"response":"r","session_id":"s","model_used":"m","warning":"w",)"
      R"("sources":[{"n":1,"title":"T","url":"https://x"},{"n":2,"title":"U","url":null}],)"
      R"("timings":{"total_ms":12.5}})");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->response, "r");
  ASSERT_EQ(reply->sources.size(), 2u);
  EXPECT_EQ(reply->sources[0].url, "https://x");
  EXPECT_EQ(reply->sources[1].url, "");
  EXPECT_DOUBLE_EQ(reply->total_ms, 12.5);
  EXPECT_FALSE(ParseChatReply("not json"));

  Status notfound = ParseApiError(R"({"error":{"code":"not_found","message":"gone"}})", 404);
  EXPECT_EQ(notfound.code(), StatusCode::kNotFound);
  EXPECT_EQ(notfound.message(), "gone");
  Status plain = ParseApiError("Bad Gateway", 502);
  EXPECT_EQ(plain.code(), StatusCode::kUnavailable);
  EXPECT_EQ(plain.message(), "HTTP 502: Bad Gateway");
}

}  // namespace
}  // namespace jrvs::app
