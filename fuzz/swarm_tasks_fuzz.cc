// Fuzz target: the balancer's decoding of a Swarm manager's GET /tasks answer
// (load-balancer/docker/swarm_tasks.h: parseTasks, networkMatches). Input: one control byte
// (which network to look for), then the JSON body as the Engine would send it.
// Properties: decoding is deterministic; every task decoded has an id, a name that ends with
// "." + its id and starts with the service's name, and an address without a CIDR suffix;
// networkMatches(name, wanted) holds exactly for `wanted` and "<stack>_<wanted>".
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "load-balancer/docker/swarm_tasks.h"

namespace {

const char* const kNetworks[] = {"", "mesh", "meshkv_mesh", "ingress"};

bool endsWith(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  std::string network = kNetworks[in.byte() % 4];
  std::string_view body = in.rest();
  const std::string service = "stack_database";
  auto a = lb::parseTasks(body, service, network);
  auto b = lb::parseTasks(body, service, network);
  FUZZ_CHECK(a.ok() == b.ok(), "decoding is deterministic");
  if (!a.ok()) {
    FUZZ_CHECK(a.error().code == "BAD_TASKS", "a refusal has the documented code");
    return 0;
  }
  FUZZ_CHECK(a->size() == b->size(), "decoding is deterministic");
  for (size_t i = 0; i < a->size(); ++i) {
    const lb::SwarmTask& t = (*a)[i];
    FUZZ_CHECK(t.id == (*b)[i].id && t.ip == (*b)[i].ip && t.phase == (*b)[i].phase,
               "decoding is deterministic");
    FUZZ_CHECK(!t.id.empty(), "a task has an id");
    FUZZ_CHECK(t.name.rfind(service + ".", 0) == 0 && endsWith(t.name, "." + t.id),
               "a task's name is <service>.<slot or node>.<id>");
    FUZZ_CHECK(t.ip.find('/') == std::string::npos, "an address has no CIDR suffix");
  }
  // networkMatches on two strings cut from the body.
  std::string_view name = body.substr(0, body.size() / 2);
  std::string_view wanted = body.substr(body.size() / 2);
  bool expect = name == wanted || (name.size() > wanted.size() + 1 && endsWith(name, wanted) &&
                                   name[name.size() - wanted.size() - 1] == '_');
  FUZZ_CHECK(lb::networkMatches(name, wanted) == expect,
             "a network matches as itself or as <stack>_<name>");
  return 0;
}
