// Fuzz target: the record decoder of the node's log and snapshot files
// (database/persistence/record.h scanRecords), which reads every byte of DATA_DIR at start. The
// first input byte, when odd, seals the rest into well-formed records (record_seal.h); its
// upper bits choose after how many records a second scan stops early. Properties: the valid
// records re-encode through encodeRecord to exactly the bytes before goodEnd; a clean scan
// consumed everything; a torn tail is only what the format calls torn (fewer bytes than a
// header, a record reaching the end, or only zeros after it), anything else bad is damage; the
// good prefix scans clean on its own; a scan stopped early ends after that record, clean.
#include <algorithm>
#include <string>
#include <vector>

#include "common/core/bytes.h"
#include "database/persistence/record.h"
#include "fuzz_check.h"
#include "record_seal.h"

namespace {

using db::persistence::LogRecord;
using db::persistence::ScanOutcome;
namespace persistence = db::persistence;

// What record.h says may be cut as a torn tail at `at`, written independently of scanRecords.
bool tornByTheRules(const std::string& b, size_t at) {
  size_t left = b.size() - at;
  if (left < persistence::kRecordHeaderBytes) return true;
  uint64_t len = fuzz::getLe(b, at, 4);
  if (len <= persistence::kMaxRecordBodyBytes &&
      at + persistence::kRecordHeaderBytes + len >= b.size()) {
    return true;
  }
  return std::all_of(b.begin() + static_cast<long>(at), b.end(), [](char c) { return c == 0; });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  uint8_t mode = in.byte();
  std::string bytes(in.rest());
  if (mode & 1) fuzz::sealRecords(bytes);

  std::string reencoded;
  std::vector<size_t> ends;
  ScanOutcome out = persistence::scanRecords(bytes, [&](const LogRecord& r) {
    FUZZ_CHECK(r.origin.size() <= 0xffff && r.key.size() <= 0xffff, "lengths fit their fields");
    FUZZ_CHECK(
        static_cast<uint8_t>(r.kind) <= static_cast<uint8_t>(persistence::RecordKind::kReset),
        "a known kind");
    size_t before = reencoded.size();
    persistence::encodeRecord(reencoded, r.kind, r.key, r.value, r.hlc, r.origin, r.collection,
                              r.expiresAtMs);
    FUZZ_CHECK(reencoded.size() - before - persistence::kRecordHeaderBytes <=
                   persistence::kMaxRecordBodyBytes,
               "a body within the maximum");
    ends.push_back(reencoded.size());
    return true;
  });
  FUZZ_CHECK(out.goodEnd <= bytes.size(), "goodEnd inside the input");
  FUZZ_CHECK(out.records == ends.size(), "every valid record visited once");
  FUZZ_CHECK(reencoded == bytes.substr(0, out.goodEnd),
             "the valid records re-encode to the bytes before goodEnd");
  switch (out.state) {
    case ScanOutcome::State::kClean:
      FUZZ_CHECK(out.goodEnd == bytes.size(), "a clean scan consumed everything");
      break;
    case ScanOutcome::State::kTorn:
      FUZZ_CHECK(out.goodEnd < bytes.size(), "a torn tail has bytes");
      FUZZ_CHECK(tornByTheRules(bytes, out.goodEnd), "only a real tear is cut");
      break;
    case ScanOutcome::State::kDamaged:
      FUZZ_CHECK(out.goodEnd < bytes.size(), "damage has bytes");
      FUZZ_CHECK(!tornByTheRules(bytes, out.goodEnd), "a tear is not reported as damage");
      break;
  }
  ScanOutcome prefix = persistence::scanRecords(std::string_view(bytes).substr(0, out.goodEnd),
                                                [](const LogRecord&) { return true; });
  FUZZ_CHECK(prefix.state == ScanOutcome::State::kClean && prefix.records == out.records,
             "the good prefix scans clean on its own");
  if (!ends.empty()) {
    size_t stopAfter = 1 + (mode >> 1) % ends.size();
    size_t seen = 0;
    ScanOutcome early =
        persistence::scanRecords(bytes, [&](const LogRecord&) { return ++seen < stopAfter; });
    FUZZ_CHECK(early.state == ScanOutcome::State::kClean && early.records == stopAfter &&
                   early.goodEnd == ends[stopAfter - 1],
               "a scan stopped early ends clean after that record");
  }
  return 0;
}
