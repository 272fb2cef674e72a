// DataDir: one node's directory of files and the rule that makes its current state unambiguous
// after a crash at any instant:
//   LOCK               flock()ed by the running node (holds its pid): a second process is refused
//   snapshot.<gen>     a complete snapshot (written as snapshot.<gen>.tmp, fsynced, renamed)
//   log.<gen>          the log of the mutations applied since snapshot.<gen> was started
// The state = the highest complete snapshot.<S> (none: empty) + every log.<g> with g >= S, in
// order. Anything else (older generations, *.tmp) is a leftover of an interrupted compaction.
// Opened by the Node at start on the loop thread (before the loop runs); the lock lives as long
// as the object. The one thing to get right: a rename is durable only after fsyncDir().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/core/result.h"

namespace db::persistence {

class DataDir {
 public:
  // Creates the directory (and parents) if needed and takes the lock. Errors: DATA_DIR_LOCKED
  // (another process holds it; the message names its pid), DATA_DIR_UNUSABLE.
  static common::Result<std::unique_ptr<DataDir>> open(const std::string& path);
  ~DataDir();
  DataDir(const DataDir&) = delete;
  DataDir& operator=(const DataDir&) = delete;

  const std::string& path() const { return path_; }
  std::string logPath(uint64_t gen) const;
  std::string snapshotPath(uint64_t gen) const;
  std::string snapshotTmpPath(uint64_t gen) const;

  struct Layout {
    std::optional<uint64_t> snapshot;  // the current snapshot's generation
    std::vector<uint64_t> logs;        // generations to replay after it, ascending
    std::vector<std::string> stale;    // leftover files (full paths) safe to delete
    uint64_t nextGen() const;          // a generation above every file's
  };
  common::Result<Layout> scan() const;

 private:
  DataDir(std::string path, int lockFd) : path_(std::move(path)), lockFd_(lockFd) {}
  std::string path_;
  int lockFd_;
};

}  // namespace db::persistence
