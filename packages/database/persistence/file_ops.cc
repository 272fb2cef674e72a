// See file_ops.h.
#include "database/persistence/file_ops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace db::persistence {

int PosixFileOps::open(const std::string& path, int flags, mode_t mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  return fd < 0 ? -errno : fd;
}

int PosixFileOps::write(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) return -EIO;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

int PosixFileOps::fsync(int fd) {
  return ::fdatasync(fd) == 0 ? 0 : -errno;
}

int PosixFileOps::truncate(int fd, uint64_t size) {
  return ::ftruncate(fd, static_cast<off_t>(size)) == 0 ? 0 : -errno;
}

int64_t PosixFileOps::size(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return -errno;
  return st.st_size;
}

int PosixFileOps::close(int fd) {
  return ::close(fd) == 0 ? 0 : -errno;
}

int PosixFileOps::rename(const std::string& from, const std::string& to) {
  return std::rename(from.c_str(), to.c_str()) == 0 ? 0 : -errno;
}

int PosixFileOps::unlink(const std::string& path) {
  return ::unlink(path.c_str()) == 0 ? 0 : -errno;
}

int PosixFileOps::fsyncDir(const std::string& dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return fd;
  int rc = ::fsync(fd) == 0 ? 0 : -errno;
  ::close(fd);
  return rc;
}

FileOps& posixFileOps() {
  static PosixFileOps ops;
  return ops;
}

}  // namespace db::persistence
