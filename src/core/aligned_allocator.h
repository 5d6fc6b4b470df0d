// AlignedAllocator: a std::allocator whose blocks start on an `Align`-byte boundary.
//
// Used for arrays read a row at a time in random order (the vector index's int8 copy): with 64
// the rows of a multiple of 64 bytes start on cache lines, so one row costs row/64 lines instead
// of one more (a large std::vector's block starts 16 bytes into a page under glibc).
#pragma once

#include <cstddef>
#include <new>

namespace jrvs {

template <typename T, size_t Align = 64>
struct AlignedAllocator {
  static_assert(Align >= alignof(T) && (Align & (Align - 1)) == 0, "Align: a power of two");
  using value_type = T;
  template <typename U>
  struct rebind {
    using other = AlignedAllocator<U, Align>;
  };

  AlignedAllocator() noexcept = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U, Align>&) noexcept {}  // NOLINT: allocator rebind

  T* allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{Align}));
  }
  void deallocate(T* p, size_t) noexcept { ::operator delete (p, std::align_val_t{Align}); }

  template <typename U>
  bool operator==(const AlignedAllocator<U, Align>&) const noexcept {
    return true;
  }
};

}  // namespace jrvs
