// The standalone driver of a fuzz target for builds without libFuzzer (g++, build-asan/): feeds
// every regular file under the directories (or the files) named on the command line, once, to
// the target's LLVMFuzzerTestOneInput, in sorted order. ctest runs it on fuzz/corpus/<name>/
// and fuzz/regressions/<name>/, so `make test` replays every seed and every crash ever found.
// A property a target asserts aborts the process (the sanitizers report it); a missing
// directory is fine (a target with no regression yet). The one thing to get right: an input is
// copied into a buffer of exactly its size, so ASan catches a read one byte past it, as under
// libFuzzer.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    fs::path p = argv[i];
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      for (const auto& e : fs::recursive_directory_iterator(p)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
    } else if (fs::is_regular_file(p, ec)) {
      files.push_back(p);
    }
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto exact = std::make_unique<uint8_t[]>(std::max<size_t>(bytes.size(), 1));
    std::memcpy(exact.get(), bytes.data(), bytes.size());
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", f.c_str(), bytes.size());
    LLVMFuzzerTestOneInput(exact.get(), bytes.size());
  }
  std::printf("replayed %zu inputs\n", files.size());
  return 0;
}
