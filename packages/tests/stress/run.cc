// See run.h: the progress of a run from its results so far.
#include "tests/stress/run.h"

namespace stress {

Progress progressOf(const Results& results, bool started, uint64_t startNs, uint64_t endNs) {
  Progress p;
  p.amount = results.amount;
  p.issued = results.issued;
  p.succeeded = results.succeeded;
  p.errors = results.errors;
  p.completed = p.succeeded + p.errors;
  p.elapsedSec = started ? static_cast<double>(endNs - startNs) / 1e9 : 0;
  // The live rate: what completed in the last slices adding up to about one second.
  uint64_t n = 0;
  double sec = 0;
  for (auto it = results.slices.rbegin(); it != results.slices.rend() && sec < 0.999; ++it) {
    n += it->completed;
    sec += it->lengthSec;
  }
  p.liveRate = sec > 0 ? static_cast<double>(n) / sec : 0;
  return p;
}

}  // namespace stress
