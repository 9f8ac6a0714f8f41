#pragma once

// Named profiles (as rpk has them): where commands go when neither a flag nor the environment
// says. Stored in one JSON file, `$XDG_CONFIG_HOME/sluice/profiles.json` (XDG_CONFIG_HOME
// defaults to ~/.config):
//   {"current": "prod", "profiles": {"prod": {"broker": "10.0.0.5:9093",
//                                             "client": {"security.protocol": "SSL"}},
//                                    "local": {"data_dir": "/var/lib/sluice"}}}
// Precedence, for where a command works: --broker/--data-dir > SLUICE_BROKER/SLUICE_DATA_DIR >
// the profile (--profile NAME, else SLUICE_PROFILE, else the file's "current") > ./sluice-data.
// The file is replaced atomically (written beside it, fsynced, renamed), mode 0600.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "segment/base/result.h"

namespace sluice::cli {

struct Profile {
  std::string broker;    // HOST:PORT; empty: none
  std::string data_dir;  // empty: none
  // librdkafka properties for the broker (security.protocol, ssl.*, sasl.*), in the file as
  // "client": {"KEY": "VALUE", ...}. The file is mode 0600 because these may hold a password.
  std::vector<std::pair<std::string, std::string>> client;
};

struct ProfileStore {
  std::string current;  // empty: no profile in use
  std::map<std::string, Profile> profiles;
};

// The profiles file's path; kInvalidArgument if neither XDG_CONFIG_HOME nor HOME is set.
base::Result<std::string> ProfilesPath();
// Reads the file at `path`; a missing file is an empty store. A malformed file is
// kInvalidArgument naming the file and what is wrong.
base::Result<ProfileStore> LoadProfiles(const std::string& path);
// Replaces the file at `path` (creating its directory).
base::Status SaveProfiles(const std::string& path, const ProfileStore& store);
// Empty if `name` can name a profile, else why not.
std::string CheckProfileName(const std::string& name);

}  // namespace sluice::cli
