// sluice acl add | remove | list: the ACLs the broker's authorizer enforces (`serve --authorizer
// acl`), with kafka-acls.sh's flags. On --data-dir (the broker stopped: the engine takes the
// directory's lock) they change <data>/acls directly; with --broker they go through the Kafka
// protocol (CreateAcls, DescribeAcls, DeleteAcls) as kafka-acls.sh --bootstrap-server does.

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/kafka_client.h"
#include "engine/acl_store.h"

namespace sluice::cli {
namespace {

using engine::AclBinding;
using engine::AclBindingFilter;
using engine::AclOperation;
using engine::AclPatternType;
using engine::AclPermission;
using engine::AclResourceType;
using nlohmann::json;

struct AclFlags {
  std::vector<std::string> allow_principals;
  std::vector<std::string> deny_principals;
  std::vector<std::string> allow_hosts;
  std::vector<std::string> deny_hosts;
  std::vector<std::string> operations;
  std::vector<std::string> topics;
  std::vector<std::string> groups;
  std::vector<std::string> transactional_ids;
  bool cluster = false;
  std::string pattern_type = "literal";
  std::string principal;  // list: only this principal's
};

struct Resource {
  AclResourceType type;
  std::string name;
};

enum class Action : uint8_t { kAdd, kRemove, kList };

std::vector<Resource> Resources(const AclFlags& f) {
  std::vector<Resource> out;
  for (const auto& t : f.topics) out.push_back({AclResourceType::kTopic, t});
  for (const auto& g : f.groups) out.push_back({AclResourceType::kGroup, g});
  for (const auto& t : f.transactional_ids) out.push_back({AclResourceType::kTransactionalId, t});
  if (f.cluster) out.push_back({AclResourceType::kCluster, engine::kClusterResourceName});
  return out;
}

// The (principal, host, permission) entries of --allow-principal/--deny-principal with their
// hosts ("*" when none is given).
struct Entry {
  std::string principal;
  std::string host;
  AclPermission permission;
};

std::vector<Entry> Entries(const AclFlags& f) {
  std::vector<Entry> out;
  auto add = [&](const std::vector<std::string>& principals, const std::vector<std::string>& hosts,
                 AclPermission permission) {
    const std::vector<std::string> any_host = {engine::kWildcardHost};
    for (const auto& p : principals) {
      for (const auto& h : hosts.empty() ? any_host : hosts) out.push_back({p, h, permission});
    }
  };
  add(f.allow_principals, f.allow_hosts, AclPermission::kAllow);
  add(f.deny_principals, f.deny_hosts, AclPermission::kDeny);
  return out;
}

json ToJson(const AclBinding& b) {
  return {{"principal", b.principal},
          {"host", b.host},
          {"operation", engine::AclName(b.operation)},
          {"permission", engine::AclName(b.permission)},
          {"resource_type", engine::AclName(b.resource_type)},
          {"pattern_type", engine::AclName(b.pattern_type)},
          {"resource_name", b.resource_name}};
}

void Print(Context& ctx, const std::vector<AclBinding>& bindings) {
  if (ctx.format() == OutputFormat::kJson) {
    json out = json::array();
    for (const auto& b : bindings) out.push_back(ToJson(b));
    PrintJson(out);
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& b : bindings) {
    rows.push_back({b.principal, b.host, engine::AclName(b.operation),
                    engine::AclName(b.permission), engine::AclName(b.resource_type),
                    engine::AclName(b.pattern_type), b.resource_name});
  }
  PrintTable({"PRINCIPAL", "HOST", "OPERATION", "PERMISSION", "RESOURCE_TYPE", "PATTERN", "NAME"},
             rows);
}

int Run(Context& ctx, const AclFlags& f, Action action) {
  const auto pattern = engine::ParseAclPatternType(f.pattern_type);
  if (!pattern) {
    return ctx.Usage("--resource-pattern-type: '" + f.pattern_type +
                     "' (known: literal, prefixed, any, match)");
  }
  if (action == Action::kAdd && *pattern != AclPatternType::kLiteral &&
      *pattern != AclPatternType::kPrefixed) {
    return ctx.Usage("acl add: --resource-pattern-type must be literal or prefixed");
  }
  std::vector<AclOperation> ops;
  for (const auto& name : f.operations) {
    const auto op = engine::ParseAclOperation(name);
    if (!op || *op == AclOperation::kAny) {
      return ctx.Usage("--operation: '" + name +
                       "' (known: All, Read, Write, Create, Delete, Alter, Describe, "
                       "ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite)");
    }
    ops.push_back(*op);
  }
  const std::vector<Resource> resources = Resources(f);
  const std::vector<Entry> entries = Entries(f);
  if (action != Action::kList && resources.empty()) {
    return ctx.Usage(std::string("acl ") + (action == Action::kAdd ? "add" : "remove") +
                     ": name a resource (--topic, --group, --cluster, ...)");
  }
  if (action == Action::kAdd) {
    if (entries.empty()) return ctx.Usage("acl add: give --allow-principal or --deny-principal");
  }
  if (action != Action::kAdd && !f.principal.empty() && !entries.empty()) {
    return ctx.Usage("give --principal (a filter) or --allow/--deny-principal, not both");
  }
  if (ops.empty()) ops.push_back(action == Action::kAdd ? AclOperation::kAll : AclOperation::kAny);

  // add: every resource x entry x operation. remove/list: filters, ANY for what is not given.
  std::vector<AclBinding> bindings;
  std::vector<AclBindingFilter> filters;
  std::vector<Resource> scope = resources;
  if (scope.empty()) scope.push_back({AclResourceType::kAny, ""});
  for (const Resource& r : scope) {
    AclBindingFilter base;
    base.resource_type = r.type;
    if (r.type != AclResourceType::kAny) base.resource_name = r.name;
    base.pattern_type = r.type == AclResourceType::kAny ? AclPatternType::kAny : *pattern;
    if (!f.principal.empty()) base.principal = f.principal;
    for (AclOperation op : ops) {
      if (entries.empty()) {
        AclBindingFilter filter = base;
        filter.operation = op;
        filters.push_back(filter);
        continue;
      }
      for (const Entry& e : entries) {
        AclBinding b{r.type, r.name, *pattern, e.principal, e.host, op, e.permission};
        if (action == Action::kAdd) {
          if (Status s = engine::ValidateAclBinding(b); !s) return ctx.Usage(s.error().context);
          bindings.push_back(std::move(b));
        } else {
          AclBindingFilter filter = base;
          filter.principal = e.principal;
          filter.host = e.host;
          filter.operation = op;
          filter.permission = e.permission;
          filters.push_back(filter);
        }
      }
    }
  }

  std::unique_ptr<kafka::AdminClient> admin;
  engine::Engine* engine = nullptr;
  if (ctx.remote()) {
    auto connected = kafka::AdminClient::Connect(ctx.Client());
    if (!connected) return ctx.Fail(connected.error());
    admin = std::move(*connected);
  } else {
    engine = ctx.Engine();
    if (engine == nullptr) return kExitFailure;
  }

  if (action == Action::kAdd) {
    if (admin) {
      if (Status s = admin->CreateAcls(bindings); !s) return ctx.Fail(s.error());
    } else if (auto added = engine->CreateAcls(bindings); !added) {
      return ctx.Fail(added.error());
    }
    if (ctx.format() == OutputFormat::kJson) {
      Print(ctx, bindings);
    } else {
      for (const auto& b : bindings) std::printf("added ACL: %s\n", b.ToString().c_str());
    }
    return kExitOk;
  }
  if (action == Action::kRemove) {
    std::vector<AclBinding> removed;
    if (admin) {
      auto deleted = admin->DeleteAcls(filters);
      if (!deleted) return ctx.Fail(deleted.error());
      for (auto& per_filter : *deleted) {
        for (auto& b : per_filter) removed.push_back(std::move(b));
      }
    } else {
      auto deleted = engine->DeleteAcls(filters);
      if (!deleted) return ctx.Fail(deleted.error());
      for (auto& per_filter : *deleted) {
        for (auto& b : per_filter) removed.push_back(std::move(b));
      }
    }
    if (ctx.format() == OutputFormat::kJson) {
      Print(ctx, removed);
    } else if (removed.empty()) {
      std::printf("no ACL matched\n");
    } else {
      for (const auto& b : removed) std::printf("removed ACL: %s\n", b.ToString().c_str());
    }
    return kExitOk;
  }
  // list
  std::vector<AclBinding> found;
  for (const AclBindingFilter& filter : filters) {
    std::vector<AclBinding> matched;
    if (admin) {
      auto described = admin->DescribeAcls(filter);
      if (!described) return ctx.Fail(described.error());
      matched = std::move(*described);
    } else {
      auto acls = engine->Acls();
      if (!acls) return ctx.Fail(acls.error());
      for (const AclBinding& b : (*acls)->bindings) {
        if (filter.Matches(b)) matched.push_back(b);
      }
    }
    for (auto& b : matched) {
      if (std::find(found.begin(), found.end(), b) == found.end()) found.push_back(std::move(b));
    }
  }
  if (admin && found.empty()) {
    // librdkafka 2.0.2 drops DescribeAcls' top-level error (SECURITY_DISABLED,
    // CLUSTER_AUTHORIZATION_FAILED): an empty answer may be one. DeleteAcls reports its errors,
    // and one whose filter can match nothing (no binding has an empty name) changes nothing.
    AclBindingFilter nothing;
    nothing.resource_type = AclResourceType::kTopic;
    nothing.resource_name = "";
    nothing.pattern_type = AclPatternType::kLiteral;
    if (auto probe = admin->DeleteAcls({nothing}); !probe) {
      if (probe.error().code == base::ErrorCode::kInvalidArgument) return ctx.Fail(probe.error());
      std::fprintf(stderr,
                   "sluice: warning: no ACL listed, but the broker may have refused DescribeAcls "
                   "(librdkafka 2.0.2 does not report its errors): %s\n",
                   probe.error().ToString().c_str());
    }
  }
  Print(ctx, found);
  return kExitOk;
}

void AddFlags(CLI::App* cmd, AclFlags& f, Action action) {
  if (action == Action::kList) {
    cmd->add_option("--principal", f.principal, "Only the ACLs of this principal (User:NAME)");
  } else {
    cmd->add_option("--allow-principal", f.allow_principals,
                    "Principal given ALLOW (User:NAME, User:* for everyone; repeatable)");
    cmd->add_option("--deny-principal", f.deny_principals,
                    "Principal given DENY (User:NAME, User:*; repeatable)");
    cmd->add_option("--allow-host", f.allow_hosts,
                    "IP the ALLOW applies to (default *: any; repeatable)");
    cmd->add_option("--deny-host", f.deny_hosts,
                    "IP the DENY applies to (default *: any; repeatable)");
    cmd->add_option("--operation", f.operations,
                    "Read, Write, Create, Delete, Alter, Describe, ClusterAction, "
                    "DescribeConfigs, AlterConfigs, IdempotentWrite or All (repeatable; add's "
                    "default All)");
  }
  cmd->add_option("--topic", f.topics, "Topic (or prefix, or * for all; repeatable)");
  cmd->add_option("--group", f.groups, "Consumer group (or prefix, or *; repeatable)");
  cmd->add_option("--transactional-id", f.transactional_ids, "Transactional id (repeatable)");
  cmd->add_flag("--cluster", f.cluster, "The cluster resource");
  cmd->add_option("--resource-pattern-type", f.pattern_type,
                  action == Action::kAdd
                      ? "literal (default) or prefixed"
                      : "literal (default), prefixed, any, or match (every ACL that applies)");
}

}  // namespace

void AddAclCommands(CLI::App& app, Context& ctx) {
  CLI::App* acl =
      app.add_subcommand("acl", "Add, remove and list the ACLs of `serve --authorizer acl`");
  acl->fallthrough();
  acl->require_subcommand(1, 1);
  struct Cmd {
    const char* name;
    const char* help;
    Action action;
  };
  for (const Cmd& c :
       {Cmd{"add", "Add ACLs (every resource x principal x host x operation)", Action::kAdd},
        Cmd{"remove",
            "Remove the ACLs matching the flags (no principal: every ACL of the "
            "resources)",
            Action::kRemove},
        Cmd{"list", "List ACLs (all, or those of the resources given)", Action::kList}}) {
    auto flags = std::make_shared<AclFlags>();
    CLI::App* cmd = acl->add_subcommand(c.name, c.help);
    AddFlags(cmd, *flags, c.action);
    const Action action = c.action;
    cmd->callback([&ctx, flags, action] { ctx.exit_code = Run(ctx, *flags, action); });
  }
}

}  // namespace sluice::cli
