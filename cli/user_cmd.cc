// sluice user create | delete | list: SCRAM users (SASL/PLAIN and SASL/SCRAM logins), on the data
// directory (a stopped broker) or, with --broker, on a running broker through Kafka's
// AlterUserScramCredentials / DescribeUserScramCredentials (cli/scram_admin.h).

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "cli/scram_admin.h"
#include "engine/scram_users.h"
#include "segment/base/crypto.h"

namespace sluice::cli {
namespace {

using engine::ScramMechanism;
using nlohmann::json;

struct UserFlags {
  std::string name;
  std::string password;
  bool password_stdin = false;
  std::string password_env;
  std::string mechanism = "both";
  int32_t iterations = engine::kDefaultScramIterations;
};

Result<std::vector<ScramMechanism>> Mechanisms(const std::string& text) {
  if (text == "both")
    return std::vector<ScramMechanism>(std::begin(engine::kScramMechanisms),
                                       std::end(engine::kScramMechanisms));
  if (auto m = engine::ParseScramMechanism(text)) return std::vector<ScramMechanism>{*m};
  return base::MakeError(base::ErrorCode::kInvalidArgument,
                         "--mechanism: '" + text + "' is not SCRAM-SHA-256, SCRAM-SHA-512 or both");
}

// The password from exactly one of --password, --password-stdin, --password-env.
Result<std::string> Password(const UserFlags& f) {
  const int given =
      (f.password.empty() ? 0 : 1) + (f.password_stdin ? 1 : 0) + (f.password_env.empty() ? 0 : 1);
  auto invalid = [](const std::string& why) {
    return base::MakeError(base::ErrorCode::kInvalidArgument, why);
  };
  if (given != 1) {
    return invalid("give the password with one of --password, --password-stdin, --password-env");
  }
  std::string password = f.password;
  if (f.password_stdin) {
    if (!std::getline(std::cin, password)) return invalid("--password-stdin: no line on stdin");
    if (!password.empty() && password.back() == '\r') password.pop_back();
  } else if (!f.password_env.empty()) {
    const char* v = std::getenv(f.password_env.c_str());
    if (v == nullptr) return invalid("--password-env: $" + f.password_env + " is not set");
    password = v;
  }
  if (password.empty()) return invalid("the password is empty");
  return password;
}

int Create(Context& ctx, const UserFlags& f) {
  auto mechanisms = Mechanisms(f.mechanism);
  if (!mechanisms) return ctx.Usage(mechanisms.error().context);
  if (auto s = engine::ValidateScramUserName(f.name); !s) return ctx.Usage(s.error().context);
  if (auto s = engine::ValidateScramIterations(f.iterations); !s) {
    return ctx.Usage("--iterations: " + s.error().context);
  }
  auto password = Password(f);
  if (!password) return ctx.Usage(password.error().context);
  std::vector<ScramUpsertion> upsertions;
  for (ScramMechanism m : *mechanisms) {
    auto salt = base::SecureRandomBytes(engine::kScramSaltBytes);
    if (!salt) return ctx.Fail(salt.error());
    ScramUpsertion u;
    u.user = f.name;
    u.mechanism = m;
    u.iterations = f.iterations;
    u.salt = *salt;
    u.salted_password = base::Pbkdf2(engine::ScramHash(m), *password, *salt, f.iterations);
    upsertions.push_back(std::move(u));
  }
  if (ctx.remote()) {
    if (auto s = AlterScramCredentials(ctx.Client(), upsertions, {}); !s)
      return ctx.Fail(s.error());
  } else {
    engine::Engine* e = ctx.Engine(engine::CreateIfMissing::kYes);
    if (e == nullptr) return ctx.exit_code;
    for (const ScramUpsertion& u : upsertions) {
      const auto credential = engine::ScramCredentialFromSaltedPassword(
          u.mechanism, u.salted_password, u.salt, u.iterations);
      if (auto s = e->UpsertScramCredential(u.user, u.mechanism, credential); !s) {
        return ctx.Fail(s.error());
      }
    }
  }
  std::vector<std::string> names;
  for (ScramMechanism m : *mechanisms) names.emplace_back(engine::ScramMechanismName(m));
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson({{"user", f.name}, {"mechanisms", names}, {"iterations", f.iterations}});
  } else {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    std::printf("user %s: %s credentials set (%d iterations)\n", f.name.c_str(), list.c_str(),
                f.iterations);
  }
  return kExitOk;
}

int Delete(Context& ctx, const UserFlags& f) {
  auto mechanisms = Mechanisms(f.mechanism);
  if (!mechanisms) return ctx.Usage(mechanisms.error().context);
  std::vector<std::string> deleted;
  if (ctx.remote()) {
    // Only the mechanisms the user has: deleting one it lacks is an error for Kafka.
    auto users = DescribeScramCredentials(ctx.Client());
    if (!users) return ctx.Fail(users.error());
    std::vector<std::pair<std::string, ScramMechanism>> deletions;
    if (auto it = users->find(f.name); it != users->end()) {
      for (ScramMechanism m : *mechanisms) {
        if (it->second.count(m) != 0) deletions.emplace_back(f.name, m);
      }
    }
    if (deletions.empty()) return ctx.Fail("user " + f.name + " has no such SCRAM credential");
    if (auto s = AlterScramCredentials(ctx.Client(), {}, deletions); !s) return ctx.Fail(s.error());
    for (const auto& d : deletions) deleted.emplace_back(engine::ScramMechanismName(d.second));
  } else {
    engine::Engine* e = ctx.Engine();
    if (e == nullptr) return ctx.exit_code;
    for (ScramMechanism m : *mechanisms) {
      auto s = e->DeleteScramCredential(f.name, m);
      if (s) {
        deleted.emplace_back(engine::ScramMechanismName(m));
      } else if (s.error().code != base::ErrorCode::kNotFound) {
        return ctx.Fail(s.error());
      }
    }
    if (deleted.empty()) return ctx.Fail("user " + f.name + " has no such SCRAM credential");
  }
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson({{"user", f.name}, {"deleted", deleted}});
  } else {
    std::string list;
    for (const auto& n : deleted) list += (list.empty() ? "" : ", ") + n;
    std::printf("user %s: %s credentials deleted\n", f.name.c_str(), list.c_str());
  }
  return kExitOk;
}

int List(Context& ctx) {
  Result<engine::ScramUserMap> users = engine::ScramUserMap{};
  if (ctx.remote()) {
    auto described = DescribeScramCredentials(ctx.Client());
    if (!described) return ctx.Fail(described.error());
    users = std::move(*described);
  } else {
    engine::Engine* e = ctx.Engine();
    if (e == nullptr) return ctx.exit_code;
    users = e->ListScramUsers();
    if (!users) return ctx.Fail(users.error());
  }
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, creds] : *users) {
    for (const auto& [m, c] : creds) {
      out.push_back({{"user", name},
                     {"mechanism", std::string(engine::ScramMechanismName(m))},
                     {"iterations", c.iterations}});
      rows.push_back(
          {name, std::string(engine::ScramMechanismName(m)), std::to_string(c.iterations)});
    }
  }
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson(out);
  } else {
    PrintTable({"USER", "MECHANISM", "ITERATIONS"}, rows);
  }
  return kExitOk;
}

}  // namespace

void AddUserCommands(CLI::App& app, Context& ctx) {
  CLI::App* user = app.add_subcommand(
      "user",
      "SCRAM users for SASL logins (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512): on the data "
      "directory of a stopped broker, or on a running one with --broker");
  user->require_subcommand(1);

  auto create_flags = std::make_shared<UserFlags>();
  CLI::App* create = user->add_subcommand(
      "create", "Create a user, or replace its password (stored salted and hashed)");
  create->add_option("name", create_flags->name, "User name")->required();
  create->add_option("--password", create_flags->password,
                     "The password (visible in shell history and ps: prefer the two below)");
  create->add_flag("--password-stdin", create_flags->password_stdin,
                   "Read the password from the first line of stdin");
  create->add_option("--password-env", create_flags->password_env,
                     "Read the password from this environment variable");
  create
      ->add_option("--mechanism", create_flags->mechanism,
                   "SCRAM-SHA-256, SCRAM-SHA-512 or both (PLAIN logins work with either)")
      ->capture_default_str();
  create->add_option("--iterations", create_flags->iterations, "PBKDF2 iterations (4096..16384)")
      ->capture_default_str();
  create->callback([&ctx, create_flags] { ctx.exit_code = Create(ctx, *create_flags); });

  auto delete_flags = std::make_shared<UserFlags>();
  CLI::App* del = user->add_subcommand("delete", "Delete a user's SCRAM credentials");
  del->add_option("name", delete_flags->name, "User name")->required();
  del->add_option("--mechanism", delete_flags->mechanism, "SCRAM-SHA-256, SCRAM-SHA-512 or both")
      ->capture_default_str();
  del->callback([&ctx, delete_flags] { ctx.exit_code = Delete(ctx, *delete_flags); });

  CLI::App* list = user->add_subcommand("list", "List users and their mechanisms");
  list->callback([&ctx] { ctx.exit_code = List(ctx); });
}

}  // namespace sluice::cli
