#include "cli/command.h"

#include <pwd.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "migrations/script_directory.h"
#include "migrations/status_macros.h"
#include "proto/config_file.h"

namespace fleet::cli {
namespace {

constexpr char kConfigFile[] = "fleet.toml";

absl::StatusOr<std::optional<toml::table>> ParseConfig(const Context& ctx) {
  if (!ctx.fs.Exists(kConfigFile)) return std::optional<toml::table>();
  ASSIGN_OR_RETURN(std::string text, ctx.fs.ReadFile(kConfigFile));
  ASSIGN_OR_RETURN(toml::table doc, proto::ParseToml(text, kConfigFile));
  return std::optional<toml::table>(std::move(doc));
}

}  // namespace

int Fail(Context& ctx, const absl::Status& status) {
  ctx.err << "error: " << status.message() << "\n";
  return absl::IsCancelled(status) ? kExitInterrupted : kExitFailed;
}

int UsageError(Context& ctx, absl::string_view message) {
  ctx.err << "error: " << message << "\nRun with --help for more information.\n";
  return kExitUsage;
}

bool Json(const Context& ctx) { return ctx.options.output == "json"; }

absl::StatusOr<const toml::table*> ReadConfig(Context& ctx) {
  if (!ctx.config) ctx.config = ParseConfig(ctx);
  if (!ctx.config->ok()) return ctx.config->status();
  return ctx.config->value() ? &*ctx.config->value() : nullptr;
}

absl::StatusOr<std::string> VersionsDir(Context& ctx) {
  if (!ctx.options.dir.empty()) return ctx.options.dir;
  ASSIGN_OR_RETURN(const toml::table* config, ReadConfig(ctx));
  if (config) {
    if (auto loc = (*config)["script_location"].value<std::string>()) return *loc;
  }
  return std::string("versions");
}

absl::StatusOr<migrations::VersionTable> VersionTableFor(Context& ctx) {
  migrations::VersionTable table;
  ASSIGN_OR_RETURN(const toml::table* config, ReadConfig(ctx));
  if (config) {
    if (auto v = (*config)["version_table"].value<std::string>()) table.name = *v;
    if (auto v = (*config)["version_table_schema"].value<std::string>()) table.schema = *v;
  }
  if (!ctx.options.version_table.empty()) table.name = ctx.options.version_table;
  if (!ctx.options.schema.empty()) table.schema = ctx.options.schema;
  if (!ctx.options.version_table_schema.empty()) table.schema = ctx.options.version_table_schema;
  return table;
}

absl::StatusOr<std::unique_ptr<const migrations::RevisionGraph>> LoadGraph(
    Context& ctx, const migrations::ParseScriptOptions& options) {
  ASSIGN_OR_RETURN(std::string dir, VersionsDir(ctx));
  return migrations::LoadRevisionGraph(ctx.fs, dir, options);
}

std::vector<std::string> Ids(const migrations::RevisionGraph& graph,
                             const std::vector<migrations::RevisionGraph::Index>& revs) {
  std::vector<std::string> ids;
  for (auto r : revs) ids.push_back(graph.id(r));
  return ids;
}

std::string WhoAmI() {
  std::string user = "unknown";
  struct passwd pw;
  struct passwd* found = nullptr;
  char buf[4096];
  if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &found) == 0 && found != nullptr) {
    user = found->pw_name;
  }
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  return absl::StrCat(user, "@", host);
}

}  // namespace fleet::cli
