/* Compiler and platform glue shared by the Cython core and the cffi DPDK binding.
 *
 * Only macros and tiny inline helpers live here; nothing in this file allocates
 * or touches global state. */
#ifndef NETCHAN_COMPAT_H
#define NETCHAN_COMPAT_H

#include <stdint.h>
#include <stddef.h>

#define NC_CACHE_LINE 64

#if defined(__GNUC__) || defined(__clang__)
#define nc_likely(x)   __builtin_expect(!!(x), 1)
#define nc_unlikely(x) __builtin_expect(!!(x), 0)
#define NC_ALIGNED(n)  __attribute__((aligned(n)))
#define NC_INLINE      static inline __attribute__((always_inline))
#else
#error "netchan needs GCC or Clang (atomics and alignment attributes)"
#endif

#define NC_CACHE_ALIGNED NC_ALIGNED(NC_CACHE_LINE)

/* Acquire/release wrappers. The channel and the shm link never use an atomic
 * read-modify-write on the data path: each index has exactly one writer, so a
 * release store by the writer paired with an acquire load by the reader is
 * enough to publish everything written before the store. */
#define nc_load_relaxed(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define nc_load_acquire(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define nc_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define nc_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* A full fence, used only off the data path: by a consumer that is about to
 * sleep, between "I am going to sleep" and "is there really nothing?", so
 * that a producer cannot miss the sleeper (see doorbell in link.pxi). */
#define nc_fence_seq_cst() __atomic_thread_fence(__ATOMIC_SEQ_CST)

NC_INLINE void nc_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

NC_INLINE int nc_is_pow2(uint32_t x) { return x && !(x & (x - 1)); }

/* Index of the lowest set bit; x must not be 0. */
NC_INLINE uint32_t nc_ctz64(uint64_t x) { return (uint32_t)__builtin_ctzll(x); }

#endif /* NETCHAN_COMPAT_H */
