// FaultyFileOps: a FileOps for tests that forwards to the real file system until told to fail:
// failWrites(-ENOSPC) makes every write() fail (after writing half of its bytes, like a disk
// that fills up mid-write), failSyncs(-EIO) every fsync(); heal() ends the fault. Counts calls.
// Test-only (the testing/ folder is linked into test binaries only). Thread-safe: the writer
// thread calls it while the test thread flips faults.
#pragma once

#include <atomic>

#include "database/persistence/file_ops.h"

namespace db::persistence::testing {

class FaultyFileOps : public PosixFileOps {
 public:
  void failWrites(int err) { writeError_ = err; }
  void failSyncs(int err) { syncError_ = err; }
  void heal() {
    writeError_ = 0;
    syncError_ = 0;
  }
  int writes() const { return writes_; }
  int syncs() const { return syncs_; }
  int failures() const { return failures_; }

  int write(int fd, std::string_view bytes) override {
    ++writes_;
    if (int e = writeError_.load(); e != 0) {
      ++failures_;
      (void)PosixFileOps::write(fd, bytes.substr(0, bytes.size() / 2));
      return e;
    }
    return PosixFileOps::write(fd, bytes);
  }
  int fsync(int fd) override {
    ++syncs_;
    if (int e = syncError_.load(); e != 0) {
      ++failures_;
      return e;
    }
    return PosixFileOps::fsync(fd);
  }

 private:
  std::atomic<int> writeError_{0};
  std::atomic<int> syncError_{0};
  std::atomic<int> writes_{0};
  std::atomic<int> syncs_{0};
  std::atomic<int> failures_{0};
};

}  // namespace db::persistence::testing
