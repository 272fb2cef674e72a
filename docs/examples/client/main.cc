// meshkv-example URL: stores a key, reads it back, lists the members, with the blocking client.
// Built against the installed library (see CMakeLists.txt, or pkg-config meshkv).
#include <meshkv/client.h>

#include <cstdio>

int main(int argc, char** argv) {
  meshkv::Options opts;
  if (argc > 1) opts.url = argv[1];
  meshkv::Client db(opts);
  if (auto st = db.set("example", "hello from the client library"); !st.ok()) {
    std::fprintf(stderr, "set: %s %s\n", st.error().code.c_str(), st.error().message.c_str());
    return 1;
  }
  auto value = db.get("example");
  if (!value.ok()) return 1;
  std::printf("example = %s\n", value->c_str());
  if (auto missing = db.get("no such key"); !missing.ok()) {
    std::printf("missing: %s\n", missing.error().code.c_str());  // MISSING_RECORD
  }
  auto members = db.members();
  if (members.ok()) std::printf("members: %zu\n", members->size());
  return 0;
}
