// Fuzz target: the node's start-up reader of DATA_DIR (database/persistence/recovery.h recover),
// on directories of fuzzer-made files. Input: a file count, then per file a header byte (bit 0:
// snapshot or log, bit 1: seal the content into well-formed records, bits 2-3: generation 0-3,
// bit 4: a *.tmp leftover), a length byte pair and that many content bytes. Properties: recovery
// either succeeds or refuses with DATA_DAMAGED; a success leaves files that recover again with
// no torn tail and the same state (same digest root, records and tombstones); a refusal is
// repaired by --repair, after which the files recover cleanly to the repaired state. So a crash
// at any point, a damaged file or --repair never leads to a start that cannot be repeated.
// The one thing to get right: each input gets a fresh directory (recovery cuts files).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "database/persistence/data_dir.h"
#include "database/persistence/recovery.h"
#include "fuzz_check.h"
#include "record_seal.h"

namespace {

namespace fs = std::filesystem;
namespace persistence = db::persistence;

std::string& baseDir() {
  static std::string dir = [] {
    char tmpl[] = "/tmp/meshkv-recovery-fuzz-XXXXXX";
    char* d = mkdtemp(tmpl);
    return std::string(d != nullptr ? d : "/tmp/meshkv-recovery-fuzz");
  }();
  return dir;
}

struct State {
  uint64_t root = 0;
  size_t size = 0;
  size_t tombstones = 0;
  bool operator==(const State&) const = default;
};

struct Attempt {
  common::Result<persistence::RecoveryReport> report;
  State state;
};

Attempt recoverInto(const persistence::DataDir& dir, bool repair) {
  db::Keyspace ks(db::makeDefaultKeyspaceOptions("fuzz"));
  auto r = persistence::recover(dir, ks, repair);
  return {std::move(r), {ks.rootHash(), ks.size(), ks.tombstoneCount()}};
}

void writeFiles(fuzz::FuzzInput& in, const std::string& dir) {
  int files = 1 + in.byte() % 4;
  for (int i = 0; i < files; ++i) {
    uint8_t h = in.byte();
    size_t len = in.byte();
    len |= size_t{in.byte()} << 8;
    std::string content(in.rest().substr(0, len));
    for (size_t k = 0; k < content.size(); ++k) in.byte();
    if (h & 2) fuzz::sealRecords(content);
    std::string name = std::string(h & 1 ? "snapshot." : "log.") + "000000000" +
                       std::to_string((h >> 2) & 3) + (h & 16 ? ".tmp" : "");
    std::ofstream(dir + "/" + name, std::ios::binary | std::ios::app) << content;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = baseDir() + "/d";
  fs::remove_all(path);
  fs::create_directories(path);
  fuzz::FuzzInput in(data, size);
  writeFiles(in, path);
  auto dir = persistence::DataDir::open(path);
  FUZZ_CHECK(dir.ok(), "a fresh directory opens");

  Attempt first = recoverInto(**dir, false);
  if (first.report.ok()) {
    Attempt again = recoverInto(**dir, false);
    FUZZ_CHECK(again.report.ok() && again.report->tornTails == 0,
               "a recovered directory recovers again with no torn tail");
    FUZZ_CHECK(again.state == first.state, "recovering twice gives the same state");
  } else {
    FUZZ_CHECK(first.report.error().code == "DATA_DAMAGED", "a refusal says DATA_DAMAGED");
    Attempt repaired = recoverInto(**dir, true);
    FUZZ_CHECK(repaired.report.ok(), "--repair always starts");
    Attempt after = recoverInto(**dir, false);
    FUZZ_CHECK(
        after.report.ok() && after.report->tornTails == 0 && after.report->repairedBytes == 0,
        "a repaired directory recovers cleanly");
    FUZZ_CHECK(after.state == repaired.state, "the repaired state is what the files hold");
  }
  dir->reset();
  fs::remove_all(path);
  return 0;
}
