// End-to-end: `jrvs chat` as a user scripts it, stdin piped (so no libedit, prompt or colours):
// local mode on a data directory with the extractive provider after `jrvs ingest`, and remote
// mode (--server) against a real `jrvs serve` answering through the fake Ollama server.
#include <gtest/gtest.h>

#include <fstream>

#include "fakes/fake_llm_server.h"
#include "server_util.h"

namespace jrvs::testing {
namespace {

// Single-quotes `s` for sh. (Built with append: GCC 12 warns falsely on `"lit" + string`.)
std::string Quote(const std::string& s) {
  std::string out(1, '\'');
  for (char c : s) {
    if (c == '\'') {
      out.append("'\\''");
    } else {
      out.push_back(c);
    }
  }
  out.push_back('\'');
  return out;
}

// Runs `jrvs chat args...` with `input` on its stdin (through sh, since RunCommand has no stdin).
RunResult RunChat(const TempDir& dir, const std::vector<std::string>& args,
                  const std::string& input, const std::map<std::string, std::string>& env = {}) {
  std::string input_path = dir.path() + "/chat_input.txt";
  std::ofstream(input_path) << input;
  std::string command("exec ");
  command.append(Quote(JRVS_BINARY)).append(" chat");
  for (const auto& a : args) command.append(1, ' ').append(Quote(a));
  command.append(" < ").append(Quote(input_path));
  return RunCommand({"/bin/sh", "-c", command}, env);
}

void ExpectContains(const std::string& output, const std::string& needle) {
  EXPECT_NE(output.find(needle), std::string::npos) << "missing: " << needle << "\n" << output;
}

TEST(ChatCliE2E, LocalModeAnswersFromTheKnowledgeBaseAndRunsSlashCommands) {
  TempDir dir;
  std::string data = dir.path() + "/data";
  std::string doc = dir.path() + "/bees.md";
  std::ofstream(doc) << "# Bees\n\nHoney bees communicate the direction of flowers with a waggle "
                        "dance. The angle of the dance encodes the bearing of the sun.\n";
  std::map<std::string, std::string> env = {{"JRVS_LLM_PROVIDER", "extractive"}, {"NO_COLOR", ""}};
  auto ingest = RunJrvs({"ingest", "--data-dir", data, doc}, env);
  ASSERT_EQ(ingest.status, 0) << ingest.output;

  auto run = RunChat(dir, {"--data-dir", data, "--session", "local-1"},
                     "How do bees communicate direction?\n"
                     "/search waggle dance\n"
                     "/history 5\n"
                     "/models\n"
                     "/model\n"
                     "/switch no-such-model\n"
                     "/stats\n"
                     "/frobnicate\n"
                     "/exit\n"
                     "this line comes after /exit and is never sent\n",
                     env);
  EXPECT_EQ(run.status, 0) << run.output;
  const std::string& out = run.output;
  ExpectContains(out, "waggle dance");
  ExpectContains(out, "[1]");
  ExpectContains(out, "\n[1] Bees (file://");                      // the source under the answer
  ExpectContains(out, "1. Bees  score");                           // /search
  ExpectContains(out, "you: How do bees communicate direction?");  // /history
  ExpectContains(out, "* extractive");                             // /models, current marked
  ExpectContains(out, "current model: extractive");
  ExpectContains(out, "switch: no model named 'no-such-model'");
  ExpectContains(out, "documents");  // /stats
  ExpectContains(out, "unknown command /frobnicate");
  EXPECT_EQ(out.find("never sent"), std::string::npos);
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << "no ANSI escapes when piped";
  EXPECT_EQ(out.find("you> "), std::string::npos) << "no prompt when piped";

  // --session resumes: the turn above was stored once (the line after /exit was not sent).
  auto resumed = RunChat(dir, {"--data-dir", data, "--session", "local-1"}, "/history\n", env);
  EXPECT_EQ(resumed.status, 0) << resumed.output;
  ExpectContains(resumed.output, "you: How do bees communicate direction?");
  EXPECT_EQ(resumed.output.find("you: this line"), std::string::npos) << resumed.output;

  // /clear deletes the session's stored turns.
  auto cleared =
      RunChat(dir, {"--data-dir", data, "--session", "local-1"}, "/clear\n/history\n", env);
  ExpectContains(cleared.output, "cleared 1 turns of session local-1");
  ExpectContains(cleared.output, "no turns in this session yet");

  auto bad = RunChat(dir, {"--data-dir", data, "--session", "bad id!"}, "", env);
  EXPECT_EQ(bad.status, 2) << bad.output;
}

TEST(ChatCliE2E, RemoteModeStreamsFromAServerAndListsSources) {
  FakeLlmOptions options;
  options.reply = "Bees dance to point at flowers [1].";
  FakeLlmServer llm(options);
  ASSERT_TRUE(llm.Start()) << llm.error();
  TempDir dir;
  auto server = ServerProcess::Start(dir.path() + "/data", {},
                                     {{"JRVS_LLM_PROVIDER", "ollama"},
                                      {"JRVS_LLM_OLLAMA_URL", llm.base_url()},
                                      {"JRVS_LLM_MODEL", "llama3.2:1b"}});
  ASSERT_TRUE(server);
  auto client = server->Client();
  auto added = client.Request(
      "POST", "/api/rag/document",
      R"({"title":"Bees","url":"https://example.org/bees",)"
      R"("content":"Honey bees communicate the direction of flowers with a waggle dance."})");
  ASSERT_EQ(added.status, 201) << added.body;

  std::string url = "http://127.0.0.1:" + std::to_string(server->port());
  auto run = RunChat(dir, {"--server", url, "--session", "remote-1"},
                     "How do bees communicate?\n"
                     "/models\n"
                     "/switch nope\n"
                     "/search waggle\n"
                     "/history\n"
                     "/quit\n");
  EXPECT_EQ(run.status, 0) << run.output;
  const std::string& out = run.output;
  ExpectContains(out, "Bees dance to point at flowers [1].\n[1] Bees (https://example.org/bees)\n");
  ExpectContains(out, "* llama3.2:1b");
  ExpectContains(out, "switch: no model named 'nope'");
  ExpectContains(out, "1. Bees  score");
  ExpectContains(out, "you: How do bees communicate?");
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << "no ANSI escapes when piped";

  // The turn went to the named session on the server.
  auto history = ParseJson(client.Request("GET", "/api/history/remote-1").body);
  EXPECT_EQ(history.at("count").as_int64(), 1);

  // Tokens are printed as they arrive: the model dies after two tokens, and those two are on
  // screen before the error the server then streams.
  llm.SetMode(FakeMode::kTruncate);
  llm.SetTruncateAfterTokens(2);
  auto cut = RunChat(dir, {"--server", url, "--session", "remote-1"}, "Tell me more\n");
  EXPECT_EQ(cut.status, 0) << cut.output;
  ExpectContains(cut.output, "Bees dance\nerror: ");

  // /clear deletes the session's turns on the server.
  auto cleared = RunChat(dir, {"--server", url, "--session", "remote-1"}, "/clear\n");
  ExpectContains(cleared.output, "cleared 1 turns of session remote-1");
  history = ParseJson(client.Request("GET", "/api/history/remote-1").body);
  EXPECT_EQ(history.at("count").as_int64(), 0);

  auto down = RunChat(dir, {"--server", "http://127.0.0.1:1"}, "hello\n");
  ExpectContains(down.output, "error: ");
  EXPECT_EQ(server->Stop(), 0);
}

}  // namespace
}  // namespace jrvs::testing
