// `jrvs chat`: the terminal chat. Picks the backend (local data directory, or --server URL), the
// line reader (libedit when stdin is a terminal, plain lines otherwise) and the colours, installs
// the Ctrl-C handler and runs ChatRepl.
//
// Line history: ~/.jrvs_history (--history-file to change, "" to turn off). It is per user
// rather than per data directory because it records what the person typed, in either mode, and
// a data directory may be shared with a server run by another user. Kept to the last 1000 lines,
// rewritten after each line so a killed session loses nothing.
//
// Ctrl-C: a SIGINT handler sets one lock-free atomic flag (the REPL's interrupt, which an answer
// in progress polls) and writes a byte to a self-pipe that wakes the line reader's poll(). libedit
// is driven through its callback interface from that poll() loop, because its blocking readline()
// retries a read interrupted by the first signal and only gives up on the second. The handler is
// installed only when stdin is a terminal; piped runs keep the default (Ctrl-C ends them).
// With libedit's own signal handling off, a terminal resize is picked up at the next prompt
// (libedit measures the terminal whenever it starts a line).
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <editline/readline.h>
#include <fmt/format.h>

#include "api/chat_api.h"
#include "api/system_api.h"
#include "app/chat_backend.h"
#include "app/chat_repl.h"
#include "app/commands.h"
#include "core/logging.h"

namespace jrvs::app {

namespace {

constexpr int kHistoryLines = 1000;

std::atomic<bool> g_interrupt{false};
int g_wake_pipe[2] = {-1, -1};  // [0] read by the line reader, [1] written by the handler

extern "C" void OnSigint(int) {
  g_interrupt.store(true);
  if (g_wake_pipe[1] >= 0) {
    char c = 'i';
    ssize_t ignored = write(g_wake_pipe[1], &c, 1);  // non-blocking; a full pipe already wakes
    (void)ignored;
  }
}

bool InstallSigint() {
  if (pipe(g_wake_pipe) != 0) return false;
  for (int fd : g_wake_pipe) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  struct sigaction sa = {};
  sa.sa_handler = OnSigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocked read or poll returns EINTR
  return sigaction(SIGINT, &sa, nullptr) == 0;
}

void DrainWakePipe() {
  char buf[64];
  while (read(g_wake_pipe[0], buf, sizeof buf) > 0) {
  }
}

// libedit through its readline-compatible callback interface (see the file comment).
class EditLineReader : public LineReader {
 public:
  explicit EditLineReader(std::string history_file) : history_file_(std::move(history_file)) {
    rl_readline_name = "jrvs";
    rl_catch_signals = 0;  // our handler, not libedit's (which re-raises to the process group)
    rl_initialize();
    using_history();
    stifle_history(kHistoryLines);
    if (!history_file_.empty()) read_history(history_file_.c_str());  // absent on first run
  }

  ReadStatus ReadLine(const std::string& prompt, std::string* line) override {
    DrainWakePipe();  // a Ctrl-C that stopped an answer is not one at this prompt
    state_ = State{};
    active_ = this;
    rl_callback_handler_install(prompt.c_str(), &EditLineReader::OnLine);
    ReadStatus status = ReadStatus::kLine;
    while (!state_.done) {
      pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {g_wake_pipe[0], POLLIN, 0}};
      int n = poll(fds, 2, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        status = ReadStatus::kEof;
        break;
      }
      if ((fds[1].revents & POLLIN) != 0) {
        DrainWakePipe();
        status = ReadStatus::kInterrupted;
        break;
      }
      if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) rl_callback_read_char();
    }
    // Restores the terminal; the next install starts an empty line (a Ctrl-C drops the text).
    rl_callback_handler_remove();
    active_ = nullptr;
    if (status == ReadStatus::kInterrupted) {
      std::fputs("\n", stdout);
      std::fflush(stdout);
      return status;
    }
    if (status == ReadStatus::kEof || state_.eof) return ReadStatus::kEof;
    *line = std::move(state_.line);
    return ReadStatus::kLine;
  }

  void AddHistory(const std::string& line) override {
    add_history(line.c_str());
    if (!history_file_.empty() && write_history(history_file_.c_str()) == 0) {
      chmod(history_file_.c_str(), 0600);  // what was typed may be private
    }
  }

 private:
  struct State {
    bool done = false;
    bool eof = false;
    std::string line;
  };

  static void OnLine(char* text) {
    if (active_ == nullptr) return;
    if (text == nullptr) {
      active_->state_.eof = true;
    } else {
      active_->state_.line = text;
      std::free(text);  // the callback owns the line (malloc'ed by libedit)
    }
    active_->state_.done = true;
  }

  static inline EditLineReader* active_ = nullptr;  // the reader inside ReadLine (callback target)
  std::string history_file_;
  State state_;
};

std::string DefaultHistoryFile() {
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return {};
  return std::string(home) + "/.jrvs_history";
}

}  // namespace

int RunChat(const Config& config, const ChatCommandOptions& options) {
  // Info lines (index loaded, ...) would land in the conversation: warnings and up only, unless
  // a more verbose level than the default was asked for.
  if (Status s = InitLogging(config.log_level == "info" ? "warn" : config.log_level); !s.ok()) {
    std::cerr << "jrvs: " << s.message() << "\n";
    return kExitUsage;
  }
  if (!options.theme.empty() && !ThemeByName(options.theme)) {
    std::cerr << "jrvs: unknown theme '" << options.theme
              << "' (choose matrix, cyberpunk or minimal)\n";
    return kExitUsage;
  }
  std::string session = options.session_id;
  if (session.empty()) {
    session = api::NewSessionId();
  } else if (!api::IsValidSessionId(session)) {
    std::cerr << "jrvs: --session must match ^[A-Za-z0-9_-]{1,128}$\n";
    return kExitUsage;
  }

  Result<std::unique_ptr<ChatBackend>> backend = Error(StatusCode::kInternal, "");
  if (!options.server_url.empty()) {
    RemoteChatOptions remote;
    remote.server_url = options.server_url;
    backend = MakeRemoteChatBackend(remote);
  } else {
    backend = MakeLocalChatBackend(config);
  }
  if (!backend) {
    std::cerr << "jrvs: " << backend.error().message() << "\n";
    return backend.error().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
  }

  const bool stdin_tty = isatty(STDIN_FILENO) == 1;
  const bool stdout_tty = isatty(STDOUT_FILENO) == 1;
  const char* no_color = std::getenv("NO_COLOR");  // https://no-color.org: set and non-empty
  ChatReplOptions repl_options;
  repl_options.session_id = session;
  if (!options.theme.empty()) repl_options.theme = options.theme;
  repl_options.color =
      stdout_tty && !options.no_color && (no_color == nullptr || *no_color == '\0');
  repl_options.interactive = stdin_tty;
  repl_options.clear_screen = stdout_tty;

  std::unique_ptr<LineReader> reader;
  std::atomic<bool>* interrupt = nullptr;
  if (stdin_tty) {
    if (!InstallSigint()) {
      std::cerr << "jrvs: cannot install the Ctrl-C handler\n";
      return kExitFailure;
    }
    interrupt = &g_interrupt;
    reader = std::make_unique<EditLineReader>(options.history_file ? *options.history_file
                                                                   : DefaultHistoryFile());
  } else {
    // Scripts may want to resume the session; stderr keeps stdout to the answers.
    std::cerr << "session: " << session << "\n";
    reader = std::make_unique<StreamLineReader>(std::cin);
  }
  ChatRepl repl(**backend, *reader, std::cout, repl_options, interrupt);
  return repl.Run();
}

}  // namespace jrvs::app
