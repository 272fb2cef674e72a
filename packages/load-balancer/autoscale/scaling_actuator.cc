// See scaling_actuator.h: the GroupView helpers both actuators use.
#include "load-balancer/autoscale/scaling_actuator.h"

#include <algorithm>

namespace lb {

int GroupView::running() const {
  return static_cast<int>(std::count_if(members.begin(), members.end(),
                                        [](const GroupMember& m) { return m.running; }));
}

const GroupMember* GroupView::highestRunning() const {
  const GroupMember* best = nullptr;
  for (const auto& m : members) {
    if (m.running && (best == nullptr || m.number > best->number)) best = &m;
  }
  return best;
}

int GroupView::nextNumber() const {
  int n = 0;
  for (const auto& m : members) n = std::max(n, m.number);
  return n + 1;
}

}  // namespace lb
