// FtsTokenizer: SQLite FTS5's own tokenizer ("porter unicode61", as chunks_fts and documents_fts
// use), called from C++ so that an in-memory copy of the full-text index (store/memory_fts.h)
// splits, folds and stems text exactly as FTS5 does, for rows and for queries alike.
//
// It owns a private in-memory SQLite connection (the tokenizer modules are registered per
// connection) and a pool of tokenizer instances: FTS5's porter tokenizer keeps a scratch buffer
// in each instance, so one instance serves one thread at a time.
//
// Thread safety: Tokenize() is safe to call from many threads. Internal to the store layer (it
// hides sqlite3.h from its users but is not part of the Store seam).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jrvs::store {

class FtsTokenizer {
 public:
  // Called once per token, in order: the token (folded and stemmed) and its byte range in the
  // text [start, end).
  using TokenFn = std::function<void(std::string_view token, size_t start, size_t end)>;
  enum class Purpose { kDocument, kQuery };

  // `spec` is an FTS5 tokenize= value, e.g. "porter unicode61". Errors: kInvalidArgument for an
  // unknown tokenizer, kInternal when SQLite has no FTS5.
  static Result<std::unique_ptr<FtsTokenizer>> Create(std::string_view spec = "porter unicode61");
  ~FtsTokenizer();
  FtsTokenizer(const FtsTokenizer&) = delete;
  FtsTokenizer& operator=(const FtsTokenizer&) = delete;

  Status Tokenize(std::string_view text, Purpose purpose, const TokenFn& fn);
  // The same, until `fn` returns false (the tokens after it are not made).
  using TokenWhileFn = std::function<bool(std::string_view token, size_t start, size_t end)>;
  Status TokenizeWhile(std::string_view text, Purpose purpose, const TokenWhileFn& fn);

 private:
  struct Impl;
  explicit FtsTokenizer(std::unique_ptr<Impl> impl);
  void* Borrow(Status& error);  // a tokenizer instance (Fts5Tokenizer* of the C API)
  void Return(void* instance);
  Status Run(std::string_view text, Purpose purpose, void* context,
             int (*on_token)(void*, int, const char*, int, int, int));

  std::unique_ptr<Impl> impl_;
  std::mutex mu_;            // guards free_
  std::vector<void*> free_;  // idle tokenizer instances
};

}  // namespace jrvs::store
