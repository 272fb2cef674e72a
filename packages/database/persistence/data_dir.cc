// See data_dir.h.
#include "database/persistence/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

namespace db::persistence {
namespace {

namespace fs = std::filesystem;

std::string genName(const char* prefix, uint64_t gen) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s.%010llu", prefix, static_cast<unsigned long long>(gen));
  return buf;
}

// "log.0000000003" -> 3; nullopt for other names.
std::optional<uint64_t> parseGen(const std::string& name, std::string_view prefix) {
  if (name.size() <= prefix.size() + 1 || name.compare(0, prefix.size(), prefix) != 0 ||
      name[prefix.size()] != '.') {
    return std::nullopt;
  }
  const char* b = name.data() + prefix.size() + 1;
  const char* e = name.data() + name.size();
  uint64_t g = 0;
  auto [p, ec] = std::from_chars(b, e, g);
  if (ec != std::errc() || p != e) return std::nullopt;
  return g;
}

}  // namespace

common::Result<std::unique_ptr<DataDir>> DataDir::open(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return common::Error{"DATA_DIR_UNUSABLE", "cannot create " + path + ": " + ec.message()};
  std::string lockPath = (fs::path(path) / "LOCK").string();
  int fd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return common::Error{"DATA_DIR_UNUSABLE", "cannot open " + lockPath + ": " + strerror(errno)};
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char pid[32] = {};
    ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
    ::close(fd);
    std::string holder = n > 0 ? std::string(pid, strnlen(pid, sizeof pid)) : "unknown";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    if (err == EWOULDBLOCK) {
      return common::Error{"DATA_DIR_LOCKED",
                           path + " is in use by another meshkv-node (pid " + holder + ")"};
    }
    return common::Error{"DATA_DIR_UNUSABLE", "cannot lock " + lockPath + ": " + strerror(err)};
  }
  std::string me = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, me.data(), me.size(), 0) < 0) {
    // The pid is only informative; the lock is what counts.
  }
  return std::unique_ptr<DataDir>(new DataDir(path, fd));
}

DataDir::~DataDir() {
  ::close(lockFd_);  // releases the flock
}

std::string DataDir::logPath(uint64_t gen) const {
  return (fs::path(path_) / genName("log", gen)).string();
}
std::string DataDir::snapshotPath(uint64_t gen) const {
  return (fs::path(path_) / genName("snapshot", gen)).string();
}
std::string DataDir::snapshotTmpPath(uint64_t gen) const {
  return snapshotPath(gen) + ".tmp";
}

uint64_t DataDir::Layout::nextGen() const {
  uint64_t g = snapshot.value_or(0);
  if (!logs.empty()) g = std::max(g, logs.back());
  return g + 1;
}

common::Result<DataDir::Layout> DataDir::scan() const {
  Layout l;
  std::vector<uint64_t> snapshots, logs;
  std::vector<std::pair<uint64_t, std::string>> tmps;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(path_, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
      l.stale.push_back(entry.path().string());
    } else if (auto g = parseGen(name, "snapshot")) {
      snapshots.push_back(*g);
    } else if (auto g2 = parseGen(name, "log")) {
      logs.push_back(*g2);
    }
  }
  if (ec) return common::Error{"DATA_DIR_UNUSABLE", "cannot list " + path_ + ": " + ec.message()};
  std::sort(snapshots.begin(), snapshots.end());
  std::sort(logs.begin(), logs.end());
  if (!snapshots.empty()) l.snapshot = snapshots.back();
  for (uint64_t s : snapshots) {
    if (s != l.snapshot) l.stale.push_back(snapshotPath(s));
  }
  for (uint64_t g : logs) {
    if (l.snapshot && g < *l.snapshot) {
      l.stale.push_back(logPath(g));
    } else {
      l.logs.push_back(g);
    }
  }
  return l;
}

}  // namespace db::persistence
