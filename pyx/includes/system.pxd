# System calls and constants the core needs that Cython's bundled posix
# declarations do not carry (memfd, hugepages, futex, flock, fallocate).
from libc.stdint cimport uint32_t, uint64_t, int64_t


cdef extern from "<sys/mman.h>" nogil:
    int MAP_HUGETLB
    int MAP_NORESERVE
    int MAP_FIXED
    int MAP_SHARED
    int MAP_PRIVATE
    int MAP_ANONYMOUS
    int MAP_POPULATE
    int PROT_READ
    int PROT_WRITE
    int PROT_NONE
    int MADV_DONTNEED
    int MADV_REMOVE
    void *MAP_FAILED
    void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset)
    int munmap(void *addr, size_t length)
    int madvise(void *addr, size_t length, int advice)
    int memfd_create(const char *name, unsigned int flags)
    unsigned int MFD_CLOEXEC
    unsigned int MFD_HUGETLB
    unsigned int MFD_ALLOW_SEALING


cdef extern from "<fcntl.h>" nogil:
    int O_RDWR
    int O_RDONLY
    int O_CREAT
    int O_EXCL
    int O_CLOEXEC
    int FALLOC_FL_PUNCH_HOLE
    int FALLOC_FL_KEEP_SIZE
    int fallocate(int fd, int mode, long offset, long len)
    int open(const char *path, int flags, int mode)
    int fcntl(int fd, int cmd, ...)
    int F_ADD_SEALS
    int F_GET_SEALS
    int F_SEAL_SHRINK


cdef extern from "<sys/file.h>" nogil:
    int LOCK_EX
    int LOCK_SH
    int LOCK_NB
    int LOCK_UN
    int flock(int fd, int operation)


cdef extern from "<unistd.h>" nogil:
    int ftruncate(int fd, long length)
    int close(int fd)
    long read(int fd, void *buf, size_t count)
    int getpid()
    long sysconf(int name)
    int _SC_PAGESIZE
    int unlink(const char *path)


cdef extern from "<signal.h>" nogil:
    int kill(int pid, int sig)


cdef extern from "<sys/stat.h>" nogil:
    cdef struct stat:
        long st_size
    int fstat(int fd, stat *buf)


cdef extern from "<time.h>" nogil:
    cdef struct timespec:
        long tv_sec
        long tv_nsec
    int CLOCK_MONOTONIC
    int clock_gettime(int clk, timespec *ts)
    int nanosleep(const timespec *req, timespec *rem)


cdef extern from "<errno.h>" nogil:
    int errno
    int ESRCH
    int EAGAIN
    int EINTR
    int ETIMEDOUT
    int ENOENT
    int EEXIST
    int EINVAL
    int ENOMEM


cdef extern from "<linux/futex.h>" nogil:
    int FUTEX_WAIT
    int FUTEX_WAKE


cdef extern from "<sys/syscall.h>" nogil:
    long SYS_futex


cdef extern from "<unistd.h>" nogil:
    long syscall(long number, ...)


cdef extern from "<sched.h>" nogil:
    int sched_yield()
