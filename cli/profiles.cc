#include "cli/profiles.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace sluice::cli {

using base::ErrorCode;
using base::MakeError;
using nlohmann::json;

base::Result<std::string> ProfilesPath() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && *xdg != '\0') return std::string(xdg) + "/sluice/profiles.json";
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0') return std::string(home) + "/.config/sluice/profiles.json";
  return MakeError(ErrorCode::kInvalidArgument,
                   "profiles: neither XDG_CONFIG_HOME nor HOME is set, so there is no "
                   "~/.config/sluice");
}

base::Result<ProfileStore> LoadProfiles(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return ProfileStore{};
    return base::ErrnoError(errno, "opening", path);
  }
  std::stringstream text;
  text << in.rdbuf();
  const json doc = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& what) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "profiles file " + path + ": " + what + " (fix or remove the file)");
  };
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  ProfileStore store;
  for (const auto& [key, value] : doc.items()) {
    if (key == "current") {
      if (!value.is_string()) return bad("\"current\" is not a string");
      store.current = value.get<std::string>();
    } else if (key == "profiles") {
      if (!value.is_object()) return bad("\"profiles\" is not an object");
      for (const auto& [name, entry] : value.items()) {
        if (!entry.is_object()) return bad("profile '" + name + "' is not an object");
        Profile p;
        for (const auto& [field, v] : entry.items()) {
          if (field == "client") {
            if (!v.is_object()) return bad("profile '" + name + "': client is not an object");
            for (const auto& [prop, prop_value] : v.items()) {
              if (!prop_value.is_string()) {
                return bad("profile '" + name + "': client." + prop + " is not a string");
              }
              p.client.emplace_back(prop, prop_value.get<std::string>());
            }
            continue;
          }
          if (!v.is_string()) return bad("profile '" + name + "': " + field + " is not a string");
          if (field == "broker") {
            p.broker = v.get<std::string>();
          } else if (field == "data_dir") {
            p.data_dir = v.get<std::string>();
          } else {
            return bad("profile '" + name + "': unknown key '" + field + "'");
          }
        }
        store.profiles[name] = std::move(p);
      }
    } else {
      return bad("unknown key '" + key + "'");
    }
  }
  return store;
}

base::Status SaveProfiles(const std::string& path, const ProfileStore& store) {
  json doc = {{"current", store.current}, {"profiles", json::object()}};
  for (const auto& [name, p] : store.profiles) {
    json entry = json::object();
    if (!p.broker.empty()) entry["broker"] = p.broker;
    if (!p.data_dir.empty()) entry["data_dir"] = p.data_dir;
    if (!p.client.empty()) {
      entry["client"] = json::object();
      for (const auto& [key, value] : p.client) entry["client"][key] = value;
    }
    doc["profiles"][name] = std::move(entry);
  }
  const std::string text = doc.dump(2) + "\n";
  const std::filesystem::path file(path);
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  if (ec) {
    return MakeError(ErrorCode::kIoError,
                     "creating " + file.parent_path().string() + ": " + ec.message());
  }
  // Written beside the file and renamed over it: a crash leaves the old file or the new one.
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return base::ErrnoError(errno, "creating", tmp);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return base::ErrnoError(err, "writing", tmp);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return base::ErrnoError(err, "fsync of", tmp);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return base::ErrnoError(err, "renaming to", path);
  }
  return {};
}

std::string CheckProfileName(const std::string& name) {
  if (name.empty()) return "empty profile name";
  if (name.size() > 64) return "profile name longer than 64 characters";
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return "profile name '" + name + "': use letters, digits, '-', '_' and '.'";
  }
  return "";
}

}  // namespace sluice::cli
