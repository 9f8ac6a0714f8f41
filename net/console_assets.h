#pragma once

// The built-in web console's files (net/console/*.html, *.js, *.css), built into the binary: the
// build turns them into a generated source (net/console/embed.cmake), so that serving them needs
// no file at run time and nothing from the network. Thread-safe (constant data).

#include <string_view>

namespace sluice::net {

struct ConsoleAsset {
  std::string_view path;          // as requested: "/" for index.html, "/console.js", ...
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;
};

// The asset served at `path`, or null.
const ConsoleAsset* FindConsoleAsset(std::string_view path);

}  // namespace sluice::net
