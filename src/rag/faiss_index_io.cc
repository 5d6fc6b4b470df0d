// FaissIndex persistence (rag/faiss_index.h): the index file format, its CRC-32, and
// FaissIndex::Save / FaissIndex::Load. Save streams the index into a temporary file and renames
// it into place; Load verifies the checksum before parsing anything and takes over the vectors
// FAISS read without copying them.
#include "rag/faiss_index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>

#include "rag/faiss_index_impl.h"
#include "rag/simd_kernels.h"

namespace jrvs::rag {
namespace {

using faiss_internal::FastFlatIP;
using faiss_internal::idx_t;
using faiss_internal::LimitBlasThreads;
using faiss_internal::State;

static_assert(std::endian::native == std::endian::little, "index files are little-endian");

// Takes over a loaded IndexFlat's float vectors: without copying them when the index keeps
// floats, else converted to half precision a block at a time (files of format 1 and 2).
std::unique_ptr<FastFlatIP> AdoptFlat(faiss::IndexFlat& loaded, bool half) {
  auto fast = std::make_unique<FastFlatIP>(loaded.d, half);
  if (!half) {
    fast->codes.swap(loaded.codes);
    fast->ntotal = loaded.ntotal;
  } else {
    const auto d = static_cast<size_t>(loaded.d);
    const auto n = static_cast<size_t>(loaded.ntotal);
    fast->codes.reserve(n * fast->code_size);
    constexpr size_t kBlock = 4096;
    for (size_t first = 0; first < n; first += kBlock) {
      const size_t count = std::min(kBlock, n - first);
      fast->add(static_cast<idx_t>(count), loaded.get_xb() + first * d);
    }
    loaded.codes = {};
  }
  loaded.ntotal = 0;
  return fast;
}

// While Save() writes an HNSW with FAISS, the HNSW points at an empty flat index instead of its
// storage (whose vectors the file holds in their own section); restored on scope exit.
class DetachedStorage {
 public:
  DetachedStorage(faiss::IndexHNSWFlat* hnsw, idx_t d)
      : hnsw_(hnsw), empty_(d), saved_(hnsw->storage) {
    hnsw_->storage = &empty_;
  }
  ~DetachedStorage() { hnsw_->storage = saved_; }
  DetachedStorage(const DetachedStorage&) = delete;
  DetachedStorage& operator=(const DetachedStorage&) = delete;

 private:
  faiss::IndexHNSWFlat* hnsw_;
  faiss::IndexFlatIP empty_;
  faiss::Index* saved_;
};

// ---- CRC-32 (IEEE 802.3, as zlib), slicing by 8 ------------------------------------------------

constexpr std::array<std::array<uint32_t, 256>, 8> MakeCrcTables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  for (size_t s = 1; s < 8; ++s) {
    for (size_t i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFFu];
  }
  return t;
}

constexpr auto kCrcTables = MakeCrcTables();

// Crc32(a + b) == Crc32Update(Crc32Update(0, a), b).
uint32_t Crc32Update(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  const auto& t = kCrcTables;
  crc = ~crc;
  while (n >= 8) {
    uint32_t lo;
    uint32_t hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= crc;
    crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
          t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = t[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

// ---- File format -------------------------------------------------------------------------------
//
// body   = magic "JRVSVIDX" | u32 version | u32 type (0 flat, 1 hnsw) | u64 dimension
//          | i64 watermark | u32 model length | model bytes | u64 stored count | i64 id per
//          position | u64 tombstone count | u64 tombstoned position... | u32 precision (0 float,
//          1 IEEE half) | the stored vectors, position order (dimension floats or halves each)
//          | type 1 only: the HNSW (faiss::write_index of an IndexHNSWFlat whose storage is an
//          empty IndexFlatIP)
// footer = u64 body length | u32 CRC-32 of body | "JVX1"
// All integers little-endian. The FAISS index runs to the end of the body. Version 3 added the
// precision and the vectors section; versions 1 and 2 (FAISS writing the float storage itself,
// with no vectors section) still load, converted to the index's precision. Version 2: an HNSW's
// graph may cover only a prefix of its storage (the rest is the unmerged delta, see
// faiss_index.h); version 1 files (graph over all of it) still load.

constexpr char kMagic[8] = {'J', 'R', 'V', 'S', 'V', 'I', 'D', 'X'};
constexpr char kFooterMagic[4] = {'J', 'V', 'X', '1'};
constexpr uint32_t kFormatVersion = 3;
constexpr uint32_t kFirstVectorsSectionVersion = 3;
constexpr uint32_t kOldestFormatVersion = 1;
constexpr size_t kFooterSize = 16;
constexpr size_t kMaxModelName = 4096;

// Appends to a FILE* and checksums what it writes; faiss::write_index writes through it.
class ChecksumWriter final : public faiss::IOWriter {
 public:
  explicit ChecksumWriter(FILE* f) : f_(f) { name = "jrvs index file"; }

  size_t operator()(const void* ptr, size_t size, size_t nitems) override {
    const size_t n = size * nitems;
    if (n == 0) return nitems;
    if (std::fwrite(ptr, 1, n, f_) != n) return 0;  // FAISS throws on a short write
    crc_ = Crc32Update(crc_, ptr, n);
    bytes_ += n;
    return nitems;
  }

  bool Write(const void* ptr, size_t n) { return (*this)(ptr, 1, n) == n; }
  template <typename T>
  bool Put(const T& value) {
    return Write(&value, sizeof(T));
  }

  uint32_t crc() const { return crc_; }
  uint64_t bytes() const { return bytes_; }

 private:
  FILE* f_;
  uint32_t crc_ = 0;
  uint64_t bytes_ = 0;
};

// Reads exactly n bytes or fails.
bool ReadExact(FILE* f, void* out, size_t n) { return n == 0 || std::fread(out, 1, n, f) == n; }
template <typename T>
bool Get(FILE* f, T* value) {
  return ReadExact(f, value, sizeof(T));
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

Status SyncDirectory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status(StatusCode::kInternal, "open directory " + dir.string() + " failed");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status(StatusCode::kInternal, "fsync directory " + dir.string() + " failed");
  return Status::Ok();
}

Status Corrupt(const std::filesystem::path& path, std::string_view why) {
  return Status(StatusCode::kInternal,
                "vector index file " + path.string() + " is corrupt: " + std::string(why));
}

}  // namespace

// ---- Persistence -------------------------------------------------------------------------------

Status FaissIndex::Save(const std::filesystem::path& path, std::string_view embedding_model,
                        int64_t watermark) const {
  if (embedding_model.size() > kMaxModelName) {
    return Status(StatusCode::kInvalidArgument, "embedding model name too long");
  }
  static std::atomic<uint64_t> counter{0};
  std::filesystem::path tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";

  auto fail = [&](std::string why) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    return Status(StatusCode::kInternal, "save vector index to " + path.string() + ": " + why);
  };

  File f(std::fopen(tmp.c_str(), "wb"));
  if (!f) return fail(std::string("cannot create temporary file: ") + std::strerror(errno));
  ChecksumWriter out(f.get());
  {
    // Writers wait while the index streams out; searches do not (they never take write_mu).
    std::lock_guard<std::mutex> w(impl_->write_mu);
    const State& s = impl_->state;
    const uint32_t type = s.hnsw != nullptr ? 1 : 0;
    const uint64_t dimension = impl_->options.dimension;
    const auto model_len = static_cast<uint32_t>(embedding_model.size());
    const uint64_t stored = s.stored();
    std::vector<uint64_t> dead_positions;
    dead_positions.reserve(s.dead_count);
    for (size_t p = 0; p < s.dead.size(); ++p) {
      if (s.dead[p] != 0) dead_positions.push_back(p);
    }
    const uint64_t dead_count = dead_positions.size();
    bool ok = out.Write(kMagic, sizeof(kMagic)) && out.Put(kFormatVersion) && out.Put(type) &&
              out.Put(dimension) && out.Put(watermark) && out.Put(model_len) &&
              out.Write(embedding_model.data(), embedding_model.size()) && out.Put(stored) &&
              out.Write(s.ids.data(), s.ids.size() * sizeof(int64_t)) && out.Put(dead_count) &&
              out.Write(dead_positions.data(), dead_positions.size() * sizeof(uint64_t)) &&
              out.Put(uint32_t{s.storage->half ? 1u : 0u}) &&
              out.Write(s.storage->codes.data(), stored * s.storage->code_size);
    if (!ok) return fail(std::string("write failed: ") + std::strerror(errno));
    if (s.hnsw != nullptr) {
      try {
        // Safe with searches running: they read the storage through State::storage, never
        // through the HNSW, and every other user of the HNSW holds write_mu.
        DetachedStorage detached(s.hnsw, s.hnsw->d);
        faiss::write_index(s.index.get(), &out);
      } catch (const std::exception& e) {
        return fail(std::string("write failed: ") + e.what());
      }
    }
  }
  const uint64_t body = out.bytes();
  const uint32_t crc = out.crc();
  const bool ok = std::fwrite(&body, sizeof(body), 1, f.get()) == 1 &&
                  std::fwrite(&crc, sizeof(crc), 1, f.get()) == 1 &&
                  std::fwrite(kFooterMagic, sizeof(kFooterMagic), 1, f.get()) == 1 &&
                  std::fflush(f.get()) == 0 && ::fsync(::fileno(f.get())) == 0;
  if (!ok) return fail(std::string("write failed: ") + std::strerror(errno));
  if (std::fclose(f.release()) != 0)
    return fail(std::string("close failed: ") + std::strerror(errno));
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return fail("rename failed: " + ec.message());
  return SyncDirectory(dir);
}

Result<LoadedIndex> FaissIndex::Load(const std::filesystem::path& path,
                                     const FaissIndexOptions& options) {
  if (Status st = options.Validate(); !st.ok()) return Error(std::move(st));
  LimitBlasThreads();
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    if (errno == ENOENT) return Error(StatusCode::kNotFound, "no vector index at " + path.string());
    return Error(StatusCode::kInternal,
                 "cannot open vector index " + path.string() + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(::fileno(f.get()), &st) != 0) {
    return Error(StatusCode::kInternal, "cannot stat vector index " + path.string());
  }
  const auto file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < sizeof(kMagic) + kFooterSize) return Error(Corrupt(path, "truncated"));

  // Footer, then the checksum over the whole body before parsing any of it.
  uint64_t body = 0;
  uint32_t crc = 0;
  char footer_magic[4];
  if (std::fseek(f.get(), static_cast<long>(file_size - kFooterSize), SEEK_SET) != 0 ||
      !Get(f.get(), &body) || !Get(f.get(), &crc) || !ReadExact(f.get(), footer_magic, 4)) {
    return Error(Corrupt(path, "unreadable footer"));
  }
  if (std::memcmp(footer_magic, kFooterMagic, 4) != 0 || body != file_size - kFooterSize) {
    return Error(Corrupt(path, "truncated or bad footer"));
  }
  std::rewind(f.get());
  {
    std::vector<char> chunk(1 << 20);
    uint32_t actual = 0;
    for (uint64_t left = body; left > 0;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
      if (!ReadExact(f.get(), chunk.data(), n)) return Error(Corrupt(path, "short read"));
      actual = Crc32Update(actual, chunk.data(), n);
      left -= n;
    }
    if (actual != crc) return Error(Corrupt(path, "checksum mismatch"));
  }
  std::rewind(f.get());

  char magic[sizeof(kMagic)];
  uint32_t version = 0;
  uint32_t type = 0;
  uint64_t dimension = 0;
  int64_t watermark = 0;
  uint32_t model_len = 0;
  if (!ReadExact(f.get(), magic, sizeof(magic)) ||
      std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    return Error(Corrupt(path, "bad magic"));
  }
  if (!Get(f.get(), &version) || version < kOldestFormatVersion || version > kFormatVersion) {
    return Error(Corrupt(path, "unsupported format version " + std::to_string(version)));
  }
  if (!Get(f.get(), &type) || type > 1 || !Get(f.get(), &dimension) || !Get(f.get(), &watermark) ||
      !Get(f.get(), &model_len) || model_len > kMaxModelName) {
    return Error(Corrupt(path, "bad header"));
  }
  if (dimension != options.dimension) {
    return Error(StatusCode::kFailedPrecondition,
                 "vector index " + path.string() + " has dimension " + std::to_string(dimension) +
                     ", expected " + std::to_string(options.dimension));
  }
  LoadedIndex loaded;
  loaded.watermark = watermark;
  loaded.embedding_model.resize(model_len);
  uint64_t stored = 0;
  if (!ReadExact(f.get(), loaded.embedding_model.data(), model_len) || !Get(f.get(), &stored) ||
      stored > body / sizeof(int64_t)) {
    return Error(Corrupt(path, "bad header"));
  }
  State s;
  s.ids.resize(stored);
  s.dead.assign(stored, 0);
  uint64_t dead_count = 0;
  if (!ReadExact(f.get(), s.ids.data(), stored * sizeof(int64_t)) || !Get(f.get(), &dead_count) ||
      dead_count > stored) {
    return Error(Corrupt(path, "bad id table"));
  }
  for (uint64_t i = 0; i < dead_count; ++i) {
    uint64_t p = 0;
    if (!Get(f.get(), &p) || p >= stored || s.dead[p] != 0)
      return Error(Corrupt(path, "bad tombstones"));
    s.dead[p] = 1;
  }
  s.dead_count = dead_count;
  s.live.reserve(stored - dead_count);
  for (uint64_t p = 0; p < stored; ++p) {
    if (s.dead[p] != 0) continue;
    if (s.ids[p] < 0 || !s.live.emplace(s.ids[p], static_cast<idx_t>(p)).second) {
      return Error(Corrupt(path, "duplicate or negative id"));
    }
  }

  try {
    // Format 3: the vectors, in the file's precision, converted to the index's if they differ.
    std::unique_ptr<FastFlatIP> vectors;
    if (version >= kFirstVectorsSectionVersion) {
      uint32_t precision = 0;
      if (!Get(f.get(), &precision) || precision > 1) return Error(Corrupt(path, "bad precision"));
      const bool file_half = precision == 1;
      const size_t row = dimension * (file_half ? sizeof(uint16_t) : sizeof(float));
      if (stored > body / row) return Error(Corrupt(path, "bad vectors section"));
      vectors = std::make_unique<FastFlatIP>(static_cast<idx_t>(dimension), options.float16);
      if (file_half == options.float16) {
        vectors->codes.resize(stored * row);
        if (!ReadExact(f.get(), vectors->codes.data(), vectors->codes.size())) {
          return Error(Corrupt(path, "short vectors section"));
        }
        vectors->ntotal = static_cast<idx_t>(stored);
      } else {
        vectors->codes.reserve(stored * vectors->code_size);
        constexpr size_t kBlock = 4096;
        std::vector<uint8_t> raw(kBlock * row);
        std::vector<float> floats(kBlock * dimension);
        for (uint64_t first = 0; first < stored; first += kBlock) {
          const size_t n = static_cast<size_t>(std::min<uint64_t>(kBlock, stored - first));
          if (!ReadExact(f.get(), raw.data(), n * row)) {
            return Error(Corrupt(path, "short vectors section"));
          }
          if (file_half) {
            simd::GetKernels().from_f16(reinterpret_cast<const uint16_t*>(raw.data()),
                                        n * dimension, floats.data());
          } else {
            std::memcpy(floats.data(), raw.data(), n * row);
          }
          vectors->add(static_cast<idx_t>(n), floats.data());
        }
      }
    }
    std::unique_ptr<faiss::Index> index;
    if (type == 1 || vectors == nullptr) {
      faiss::FileIOReader reader(f.get());
      index.reset(faiss::read_index(&reader));
      // An HNSW's own count is its graph's nodes; its storage must hold every stored vector.
      if (index->d != static_cast<int>(dimension) || index->ntotal > static_cast<idx_t>(stored) ||
          index->metric_type != faiss::METRIC_INNER_PRODUCT) {
        return Error(Corrupt(path, "index does not match its header"));
      }
    }
    if (std::ftell(f.get()) != static_cast<long>(body)) {
      return Error(Corrupt(path, "trailing data"));
    }
    if (type == 0) {
      if (vectors == nullptr) {
        auto* flat = dynamic_cast<faiss::IndexFlat*>(index.get());
        if (flat == nullptr || flat->ntotal != static_cast<idx_t>(stored)) {
          return Error(Corrupt(path, "expected a flat index of every stored vector"));
        }
        vectors = AdoptFlat(*flat, options.float16);
      }
      s.storage = vectors.get();
      s.index = std::move(vectors);
    } else {
      auto* hnsw = dynamic_cast<faiss::IndexHNSWFlat*>(index.get());
      auto* flat = hnsw != nullptr ? dynamic_cast<faiss::IndexFlat*>(hnsw->storage) : nullptr;
      // Format 3 keeps the vectors outside the HNSW, whose storage is then empty.
      const idx_t in_hnsw = vectors == nullptr ? static_cast<idx_t>(stored) : 0;
      if (flat == nullptr || flat->ntotal != in_hnsw ||
          hnsw->hnsw.levels.size() != static_cast<size_t>(hnsw->ntotal)) {
        return Error(Corrupt(path, "expected an HNSW index over every stored vector"));
      }
      if (vectors == nullptr) vectors = AdoptFlat(*flat, options.float16);
      std::unique_ptr<faiss::Index> replaced(hnsw->storage);
      s.storage = vectors.get();
      hnsw->storage = vectors.release();
      hnsw->own_fields = true;
      hnsw->hnsw.efSearch = options.hnsw_ef_search;
      hnsw->hnsw.efConstruction = options.hnsw_ef_construction;
      if (options.quantized_walk) s.storage->EnableQuantized();
      s.hnsw = hnsw;
      s.graph_n = static_cast<size_t>(hnsw->ntotal);
      s.index = std::move(index);
    }
  } catch (const std::exception& e) {
    return Error(Corrupt(path, std::string("FAISS could not read it: ") + e.what()));
  }

  auto impl = std::make_unique<Impl>(options);
  impl->state = std::move(s);
  impl->max_id = watermark;
  loaded.index = std::unique_ptr<FaissIndex>(new FaissIndex(std::move(impl)));
  {
    std::lock_guard<std::mutex> w(loaded.index->impl_->write_mu);
    loaded.index->impl_->MaybeRequestRebuild();
  }
  return loaded;
}

}  // namespace jrvs::rag