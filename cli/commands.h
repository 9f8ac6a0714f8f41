#pragma once

// The subcommands of `sluice`, one Add* function per family, each in its own .cc file. This header
// is the CLI's one include of CLI11. Every command sets `ctx.exit_code` from its callback.

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace sluice::cli {

void AddDemoCommand(CLI::App& app, Context& ctx);
void AddTopicCommands(CLI::App& app, Context& ctx);
void AddProduceCommand(CLI::App& app, Context& ctx);
void AddConsumeCommand(CLI::App& app, Context& ctx);
void AddGroupCommands(CLI::App& app, Context& ctx);
void AddReplayCommand(CLI::App& app, Context& ctx);
void AddVerifyCommands(CLI::App& app, Context& ctx);  // verify, dump
void AddRepairCommand(CLI::App& app, Context& ctx);
void AddBenchCommand(CLI::App& app, Context& ctx);
void AddServeCommand(CLI::App& app, Context& ctx);
void AddAclCommands(CLI::App& app, Context& ctx);   // acl add, remove, list
void AddUserCommands(CLI::App& app, Context& ctx);  // user create, delete, list
void AddProfileCommands(CLI::App& app, Context& ctx);
void AddCompletionCommands(
    CLI::App& app,
    Context& ctx);  // completion, help-man (hidden)  // profile create, use, list, delete, current

}  // namespace sluice::cli
