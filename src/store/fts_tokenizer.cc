#include "store/fts_tokenizer.h"

#include <sqlite3.h>

#include <string>

namespace jrvs::store {

struct FtsTokenizer::Impl {
  sqlite3* db = nullptr;
  fts5_tokenizer module{};
  void* user_data = nullptr;
  std::vector<std::string> args;  // the spec's words after the tokenizer's name
  std::vector<const char*> argv;

  ~Impl() {
    if (db != nullptr) sqlite3_close(db);
  }
};

namespace {

// The fts5_api of `db`, through the documented "SELECT fts5(?1)" pointer handshake.
fts5_api* Fts5Api(sqlite3* db) {
  fts5_api* api = nullptr;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, nullptr) != SQLITE_OK) return nullptr;
  sqlite3_bind_pointer(stmt, 1, static_cast<void*>(&api), "fts5_api_ptr", nullptr);
  sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  return api;
}

// FTS5 callbacks: `ctx` is the caller's function. Synonyms (FTS5_TOKEN_COLOCATED) are skipped:
// FTS5 indexes the first.
int OnToken(void* ctx, int flags, const char* token, int n, int start, int end) {
  if ((flags & FTS5_TOKEN_COLOCATED) != 0) return SQLITE_OK;
  (*static_cast<const FtsTokenizer::TokenFn*>(ctx))(std::string_view(token, static_cast<size_t>(n)),
                                                    static_cast<size_t>(start),
                                                    static_cast<size_t>(end));
  return SQLITE_OK;
}

// SQLITE_DONE stops xTokenize, which then returns it.
int OnTokenWhile(void* ctx, int flags, const char* token, int n, int start, int end) {
  if ((flags & FTS5_TOKEN_COLOCATED) != 0) return SQLITE_OK;
  const bool more = (*static_cast<const FtsTokenizer::TokenWhileFn*>(ctx))(
      std::string_view(token, static_cast<size_t>(n)), static_cast<size_t>(start),
      static_cast<size_t>(end));
  return more ? SQLITE_OK : SQLITE_DONE;
}

}  // namespace

FtsTokenizer::FtsTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FtsTokenizer::~FtsTokenizer() {
  for (void* t : free_) impl_->module.xDelete(static_cast<::Fts5Tokenizer*>(t));
}

Result<std::unique_ptr<FtsTokenizer>> FtsTokenizer::Create(std::string_view spec) {
  auto impl = std::make_unique<Impl>();
  if (sqlite3_open_v2(":memory:", &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    return Error(StatusCode::kInternal, "fts5 tokenizer: cannot open an in-memory database");
  }
  fts5_api* api = Fts5Api(impl->db);
  if (api == nullptr) return Error(StatusCode::kInternal, "fts5 tokenizer: SQLite has no FTS5");
  std::vector<std::string> words;
  size_t i = 0;
  while (i < spec.size()) {
    size_t j = spec.find(' ', i);
    if (j == std::string_view::npos) j = spec.size();
    if (j > i) words.emplace_back(spec.substr(i, j - i));
    i = j + 1;
  }
  if (words.empty()) return Error(StatusCode::kInvalidArgument, "fts5 tokenizer: empty spec");
  if (api->xFindTokenizer(api, words[0].c_str(), &impl->user_data, &impl->module) != SQLITE_OK) {
    return Error(StatusCode::kInvalidArgument, "fts5 tokenizer: unknown tokenizer " + words[0]);
  }
  impl->args.assign(words.begin() + 1, words.end());
  for (const std::string& a : impl->args) impl->argv.push_back(a.c_str());
  std::unique_ptr<FtsTokenizer> tokenizer(new FtsTokenizer(std::move(impl)));
  Status error;
  void* first = tokenizer->Borrow(error);  // fails here on bad arguments, not on first use
  if (first == nullptr) return Error(std::move(error));
  tokenizer->Return(first);
  return tokenizer;
}

void* FtsTokenizer::Borrow(Status& error) {
  {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
      void* t = free_.back();
      free_.pop_back();
      return t;
    }
  }
  ::Fts5Tokenizer* t = nullptr;
  int rc = impl_->module.xCreate(impl_->user_data, impl_->argv.data(),
                                 static_cast<int>(impl_->argv.size()), &t);
  if (rc != SQLITE_OK || t == nullptr) {
    error = Status(StatusCode::kInvalidArgument, "fts5 tokenizer: bad tokenizer arguments");
    return nullptr;
  }
  return t;
}

void FtsTokenizer::Return(void* instance) {
  std::lock_guard lock(mu_);
  free_.push_back(instance);
}

Status FtsTokenizer::Tokenize(std::string_view text, Purpose purpose, const TokenFn& fn) {
  return Run(text, purpose, const_cast<TokenFn*>(&fn), OnToken);
}

Status FtsTokenizer::TokenizeWhile(std::string_view text, Purpose purpose, const TokenWhileFn& fn) {
  return Run(text, purpose, const_cast<TokenWhileFn*>(&fn), OnTokenWhile);
}

Status FtsTokenizer::Run(std::string_view text, Purpose purpose, void* context,
                         int (*on_token)(void*, int, const char*, int, int, int)) {
  Status error;
  void* t = Borrow(error);
  if (t == nullptr) return error;
  int rc = impl_->module.xTokenize(
      static_cast<::Fts5Tokenizer*>(t), context,
      purpose == Purpose::kQuery ? FTS5_TOKENIZE_QUERY : FTS5_TOKENIZE_DOCUMENT, text.data(),
      static_cast<int>(text.size()), on_token);
  Return(t);
  if (rc != SQLITE_OK && rc != SQLITE_DONE) {
    return Status(StatusCode::kInternal, "fts5 tokenizer failed");
  }
  return Status::Ok();
}

}  // namespace jrvs::store
