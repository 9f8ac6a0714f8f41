// Writes the seed corpora of the storage fuzz targets (tests/fuzz/storage_seeds.h) into
// <corpus root>/<target>/ (default: the source tree's tests/fuzz/corpus). Files already there
// under other names (the fuzzer's findings, regression inputs) are left alone. Run it after a
// change to a format or to the seeds, and commit the result.

#include <filesystem>
#include <fstream>
#include <iostream>

#include "tests/fuzz/storage_seeds.h"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  const fs::path root =
      argc > 1 ? fs::path(argv[1]) : fs::path(SLUICE_SOURCE_DIR) / "tests/fuzz/corpus";
  size_t written = 0;
  for (const sluice::fuzz::StorageTarget& target : sluice::fuzz::StorageTargets()) {
    const fs::path dir = root / target.name;
    fs::create_directories(dir);
    for (const sluice::fuzz::StorageSeed& seed : target.seeds()) {
      std::ofstream out(dir / seed.name, std::ios::binary | std::ios::trunc);
      out.write(seed.bytes.data(), static_cast<std::streamsize>(seed.bytes.size()));
      if (!out) {
        std::cerr << "cannot write " << (dir / seed.name) << "\n";
        return 1;
      }
      ++written;
    }
  }
  std::cout << "wrote " << written << " seeds under " << root << "\n";
  return 0;
}
