// FileOps: the few file-system calls the persistence layer makes (open, write, fsync, truncate,
// rename, unlink, directory fsync), behind an interface so tests can make any of them fail with
// ENOSPC or EIO on demand (testing/faulty_file_ops.h). PosixFileOps is the real one.
// Every call returns 0 (or an fd / a size) on success and -errno on failure, libuv-style.
// Called from the writer thread and, at start, the loop thread; implementations must be
// thread-safe. The one thing to get right: write() loops until every byte is written or it
// fails; a failure may leave part of the bytes in the file (the caller truncates them away).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace db::persistence {

class FileOps {
 public:
  virtual ~FileOps() = default;
  virtual int open(const std::string& path, int flags, mode_t mode = 0644) = 0;  // fd or -errno
  virtual int write(int fd, std::string_view bytes) = 0;
  virtual int fsync(int fd) = 0;  // fdatasync: the data and the size
  virtual int truncate(int fd, uint64_t size) = 0;
  virtual int64_t size(int fd) = 0;  // the file's size, or -errno
  virtual int close(int fd) = 0;
  virtual int rename(const std::string& from, const std::string& to) = 0;
  virtual int unlink(const std::string& path) = 0;
  virtual int fsyncDir(const std::string& dir) = 0;  // makes creations/renames durable
};

class PosixFileOps : public FileOps {
 public:
  int open(const std::string& path, int flags, mode_t mode = 0644) override;
  int write(int fd, std::string_view bytes) override;
  int fsync(int fd) override;
  int truncate(int fd, uint64_t size) override;
  int64_t size(int fd) override;
  int close(int fd) override;
  int rename(const std::string& from, const std::string& to) override;
  int unlink(const std::string& path) override;
  int fsyncDir(const std::string& dir) override;
};

// The process-wide real implementation.
FileOps& posixFileOps();

}  // namespace db::persistence
