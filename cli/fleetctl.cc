#include "cli/fleetctl.h"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/revision_format.h"
#include "migrations/offline_sql.h"
#include "migrations/revision_graph.h"
#include "migrations/script_directory.h"
#include "migrations/status_macros.h"
#include "nlohmann/json.hpp"
#include "toml++/toml.h"

namespace fleet::cli {
namespace {

using migrations::RevisionGraph;
using Index = RevisionGraph::Index;

constexpr char kConfigFile[] = "fleet.toml";

// Everything a command line can set; one instance per run.
struct Options {
  std::string dir;
  std::string output = "table";
  bool verbose = false;
  bool sql = false;
  bool purge = false;
  bool splice = false;
  bool resolve_dependencies = false;
  std::string message;
  std::string head = "head";
  std::string branch_label;
  std::vector<std::string> depends_on;
  std::string rev_id;
  std::string range;
  std::string target;
  std::vector<std::string> revisions;
  std::string init_dir;
  std::string version_table;
  std::string version_table_schema;
};

struct Context {
  Options options;
  std::ostream& out;
  std::ostream& err;
  migrations::FileSystem& fs;
};

// A failed operation: print one clear line, exit 3.
int Fail(Context& ctx, const absl::Status& status) {
  ctx.err << "error: " << status.message() << "\n";
  return kExitFailed;
}

int UsageError(Context& ctx, absl::string_view message) {
  ctx.err << "error: " << message << "\nRun with --help for more information.\n";
  return kExitUsage;
}

bool Json(const Context& ctx) { return ctx.options.output == "json"; }

// fleet.toml in the current directory, when there is one.
absl::StatusOr<std::optional<toml::table>> ReadConfig(const Context& ctx) {
  if (!ctx.fs.Exists(kConfigFile)) return std::optional<toml::table>();
  ASSIGN_OR_RETURN(std::string text, ctx.fs.ReadFile(kConfigFile));
  try {
    return std::optional<toml::table>(toml::parse(text, std::string(kConfigFile)));
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(kConfigFile, ":", e.source().begin.line, ": ",
                                                   std::string(e.description())));
  }
}

// --dir, else script_location from ./fleet.toml, else ./versions.
absl::StatusOr<std::string> VersionsDir(Context& ctx) {
  if (!ctx.options.dir.empty()) return ctx.options.dir;
  ASSIGN_OR_RETURN(std::optional<toml::table> config, ReadConfig(ctx));
  if (config) {
    if (auto loc = (*config)["script_location"].value<std::string>()) return *loc;
  }
  return std::string("versions");
}

absl::StatusOr<migrations::VersionTable> VersionTableFor(Context& ctx) {
  migrations::VersionTable table;
  ASSIGN_OR_RETURN(std::optional<toml::table> config, ReadConfig(ctx));
  if (config) {
    if (auto v = (*config)["version_table"].value<std::string>()) table.name = *v;
    if (auto v = (*config)["version_table_schema"].value<std::string>()) table.schema = *v;
  }
  if (!ctx.options.version_table.empty()) table.name = ctx.options.version_table;
  if (!ctx.options.version_table_schema.empty()) table.schema = ctx.options.version_table_schema;
  return table;
}

absl::StatusOr<std::unique_ptr<const RevisionGraph>> LoadGraph(Context& ctx) {
  ASSIGN_OR_RETURN(std::string dir, VersionsDir(ctx));
  return migrations::LoadRevisionGraph(ctx.fs, dir);
}

std::vector<std::string> Ids(const RevisionGraph& graph, const std::vector<Index>& revs) {
  std::vector<std::string> ids;
  for (Index r : revs) ids.push_back(graph.id(r));
  return ids;
}

// ---- commands that read the graph ----

int RunHeads(Context& ctx) {
  auto graph = LoadGraph(ctx);
  if (!graph.ok()) return Fail(ctx, graph.status());
  const RevisionGraph& g = **graph;
  const std::vector<Index>& revs = ctx.options.resolve_dependencies ? g.real_heads() : g.heads();
  if (Json(ctx)) {
    nlohmann::json j = nlohmann::json::array();
    for (Index r : revs) j.push_back(RevisionJson(g, r));
    ctx.out << j.dump(2) << "\n";
    return kExitOk;
  }
  for (Index r : revs) {
    if (ctx.options.verbose) {
      ctx.out << FormatRevisionBlock(g, r) << "\n";
    } else {
      ctx.out << FormatRevisionLine(g, r, {.include_branches = true, .tree_indicators = false})
              << "\n";
    }
  }
  return kExitOk;
}

int RunHistory(Context& ctx) {
  std::string lower, upper;
  if (!ctx.options.range.empty()) {
    std::vector<std::string> parts = absl::StrSplit(ctx.options.range, absl::MaxSplits(':', 1));
    if (parts.size() != 2) {
      return UsageError(ctx, "History range requires [start]:[end], [start]:, or :[end]");
    }
    lower = std::string(absl::StripAsciiWhitespace(parts[0]));
    upper = std::string(absl::StripAsciiWhitespace(parts[1]));
    if (lower == "current" || upper == "current") {
      return UsageError(ctx, "'current' in a history range needs a database connection");
    }
  }
  auto graph = LoadGraph(ctx);
  if (!graph.ok()) return Fail(ctx, graph.status());
  const RevisionGraph& g = **graph;
  auto revs = g.History(lower, upper);
  if (!revs.ok()) return Fail(ctx, revs.status());
  if (Json(ctx)) {
    nlohmann::json j = nlohmann::json::array();
    for (Index r : *revs) j.push_back(RevisionJson(g, r));
    ctx.out << j.dump(2) << "\n";
    return kExitOk;
  }
  for (Index r : *revs) {
    if (ctx.options.verbose) {
      ctx.out << FormatRevisionBlock(g, r) << "\n";
    } else {
      ctx.out << FormatRevisionLine(
                     g, r, {.include_branches = true, .include_doc = true, .include_parents = true})
              << "\n";
    }
  }
  return kExitOk;
}

int RunBranches(Context& ctx) {
  auto graph = LoadGraph(ctx);
  if (!graph.ok()) return Fail(ctx, graph.status());
  const RevisionGraph& g = **graph;
  auto revs = g.History("", "");
  if (!revs.ok()) return Fail(ctx, revs.status());
  nlohmann::json j = nlohmann::json::array();
  for (Index r : *revs) {
    if (!g.IsBranchPoint(r)) continue;
    if (Json(ctx)) {
      j.push_back({{"branch_point", RevisionJson(g, r)},
                   {"children", Ids(g, g.next_revisions(r))}});
      continue;
    }
    if (ctx.options.verbose) {
      ctx.out << FormatRevisionBlock(g, r) << "\n";
    } else {
      ctx.out << FormatRevisionLine(g, r, {.include_branches = true}) << "\n";
    }
    std::vector<std::string> lines;
    for (Index c : g.next_revisions(r)) {
      lines.push_back(absl::StrCat(
          std::string(g.id(r).size(), ' '), " -> ",
          FormatRevisionLine(g, c, {.include_branches = true, .include_doc = ctx.options.verbose})));
    }
    ctx.out << absl::StrJoin(lines, "\n") << "\n\n";
  }
  if (Json(ctx)) ctx.out << j.dump(2) << "\n";
  return kExitOk;
}

int RunShow(Context& ctx) {
  if (ctx.options.target == "current") {
    return UsageError(ctx, "'show current' needs a database connection");
  }
  auto graph = LoadGraph(ctx);
  if (!graph.ok()) return Fail(ctx, graph.status());
  const RevisionGraph& g = **graph;
  auto revs = g.Resolve(ctx.options.target);
  if (!revs.ok()) return Fail(ctx, revs.status());
  if (Json(ctx)) {
    nlohmann::json j = nlohmann::json::array();
    for (Index r : *revs) j.push_back(RevisionJson(g, r));
    ctx.out << j.dump(2) << "\n";
    return kExitOk;
  }
  for (Index r : *revs) ctx.out << FormatRevisionBlock(g, r) << "\n";
  return kExitOk;
}

// ---- offline SQL ----

int NeedsDatabase(Context& ctx, absl::string_view verb) {
  return UsageError(ctx, absl::StrCat(verb,
                                      " against a database is not available yet; add --sql to "
                                      "print the SQL it would run"));
}

// The heads an offline run starts from: what `from` resolves to.
absl::StatusOr<std::vector<std::string>> StartingHeads(const RevisionGraph& g,
                                                       absl::string_view from) {
  if (from.empty()) return std::vector<std::string>{};
  ASSIGN_OR_RETURN(std::vector<Index> revs, g.Resolve(from));
  return Ids(g, revs);
}

int PrintOffline(Context& ctx, const absl::StatusOr<migrations::Plan>& plan) {
  if (!plan.ok()) return Fail(ctx, plan.status());
  auto table = VersionTableFor(ctx);
  if (!table.ok()) return Fail(ctx, table.status());
  ctx.out << migrations::RenderOfflineSql(*plan, *table);
  return kExitOk;
}

int RunUpgrade(Context& ctx) {
  const std::string& target = ctx.options.target;
  if (!ctx.options.sql) {
    if (absl::StrContains(target, ':')) return UsageError(ctx, "Range revision not allowed");
    return NeedsDatabase(ctx, "upgrade");
  }
  auto graph = LoadGraph(ctx);
  if (!graph.ok()) return Fail(ctx, graph.status());
  std::string from, to = target;
  if (size_t colon = target.find(':'); colon != std::string::npos) {
    from = target.substr(0, colon);
    to = target.substr(colon + 1);
  }
  auto start = StartingHeads(**graph, from);
  if (!start.ok()) return Fail(ctx, start.status());
  return PrintOffline(ctx, (*graph)->PlanUpgrade(*start, to));
}

int RunDowngrade(Context& ctx) {
  const std::string& target = ctx.options.target;
  size_t colon = target.find(':');
  if (!ctx.options.sql) {
    if (colon != std::string::npos) return UsageError(ctx, "Range revision not allowed");
    return NeedsDatabase(ctx, "downgrade");
  }
  if (colon == std::string::npos) {
    return UsageError(ctx, "downgrade with --sql requires <fromrev>:<torev>");
  }
  auto graph = LoadGraph(ctx);
  if (!graph.ok()) return Fail(ctx, graph.status());
  auto start = StartingHeads(**graph, target.substr(0, colon));
  if (!start.ok()) return Fail(ctx, start.status());
  return PrintOffline(ctx, (*graph)->PlanDowngrade(*start, target.substr(colon + 1)));
}

int RunStamp(Context& ctx) {
  if (!ctx.options.sql) return NeedsDatabase(ctx, "stamp");
  if (ctx.options.purge) return UsageError(ctx, "Can't use --purge with --sql mode");
  std::optional<std::string> from;
  std::vector<std::string> dests;
  for (const std::string& r : ctx.options.revisions) {
    std::string dest = r;
    if (size_t colon = r.find(':'); colon != std::string::npos) {
      std::string f = r.substr(0, colon);
      if (from && *from != f) {
        return UsageError(ctx,
                          "Stamp operation with --sql only supports a single starting revision "
                          "at a time");
      }
      from = f;
      dest = r.substr(colon + 1);
    }
    dests.push_back(dest);
  }
  auto graph = LoadGraph(ctx);
  if (!graph.ok()) return Fail(ctx, graph.status());
  auto start = StartingHeads(**graph, from.value_or(""));
  if (!start.ok()) return Fail(ctx, start.status());
  return PrintOffline(ctx, (*graph)->PlanStamp(*start, dests));
}

// ---- commands that write scripts ----

std::string NewRevisionId() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  uint64_t bits = gen();
  for (int i = 0; i < 12; ++i, bits >>= 4) id.push_back(kHex[bits & 0xF]);
  return id;
}

std::string NowLocal() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// Alembic's slug: the message's words joined by '_', lowercased, at most 40
// characters, cut at a word boundary.
std::string Slug(absl::string_view message) {
  std::vector<std::string> words;
  std::string word;
  for (char c : message) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_') {
      word.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  std::string slug = absl::StrJoin(words, "_");
  if (slug.size() > 40) {
    slug = slug.substr(0, 40);
    size_t cut = slug.rfind('_');
    slug = (cut == std::string::npos ? slug : slug.substr(0, cut)) + "_";
  }
  return slug;
}

// Writes a new script on top of `parents`, after checking that the graph
// with it added is still valid. Prints Alembic's "Generating ... done".
int WriteRevision(Context& ctx, const std::string& dir, std::vector<migrations::Script> scripts,
                  migrations::Script script) {
  std::string id = script.revision;
  std::string slug = Slug(script.message);
  std::string name = slug.empty() ? absl::StrCat(id, ".sql") : absl::StrCat(id, "_", slug, ".sql");
  std::string path = migrations::JoinPath(dir, name);
  std::string text = migrations::FormatScript(script);
  auto parsed = migrations::ParseScript(path, text);
  if (!parsed.ok()) return Fail(ctx, parsed.status());
  scripts.push_back(*std::move(parsed));
  auto graph = RevisionGraph::Build(std::move(scripts));
  if (!graph.ok()) return Fail(ctx, graph.status());
  if (absl::Status s = ctx.fs.WriteNewFile(path, text); !s.ok()) return Fail(ctx, s);
  ctx.out << "  Generating " << path << " ...  done\n";
  return kExitOk;
}

// Parents for a new revision: resolved, distinct, and (without --splice)
// heads.
absl::StatusOr<std::vector<std::string>> NewParents(const RevisionGraph& g,
                                                   const std::vector<std::string>& exprs,
                                                   bool splice) {
  std::vector<Index> parents;
  for (const std::string& e : exprs) {
    ASSIGN_OR_RETURN(std::vector<Index> revs, g.Resolve(e));
    for (Index r : revs) {
      if (std::find(parents.begin(), parents.end(), r) != parents.end()) {
        return absl::InvalidArgumentError("Duplicate head revisions specified");
      }
      parents.push_back(r);
    }
  }
  if (!splice) {
    for (Index r : parents) {
      if (!g.IsHead(r)) {
        return absl::FailedPreconditionError(
            absl::StrCat("Revision ", g.id(r),
                         " is not a head revision; please specify --splice to create a new "
                         "branch from this revision"));
      }
    }
  }
  return Ids(g, parents);
}

int CreateRevision(Context& ctx, const std::vector<std::string>& parent_exprs, bool is_merge) {
  const Options& o = ctx.options;
  auto dir = VersionsDir(ctx);
  if (!dir.ok()) return Fail(ctx, dir.status());
  auto scripts = migrations::LoadScripts(ctx.fs, *dir);
  if (!scripts.ok()) return Fail(ctx, scripts.status());
  auto graph = RevisionGraph::Build(*scripts);
  if (!graph.ok()) return Fail(ctx, graph.status());
  const RevisionGraph& g = **graph;

  migrations::Script script;
  script.revision = o.rev_id.empty() ? NewRevisionId() : o.rev_id;
  if (absl::Status s = migrations::ValidateRevisionId(script.revision); !s.ok()) {
    return Fail(ctx, s);
  }
  if (auto existing = g.FindExact(script.revision)) {
    return Fail(ctx, absl::AlreadyExistsError(absl::StrCat("revision ", script.revision,
                                                           " already exists: ",
                                                           g.script(*existing).path)));
  }
  if (parent_exprs.size() == 1 && parent_exprs[0] == "head" && g.heads().size() > 1) {
    return Fail(ctx, absl::FailedPreconditionError(
                         "Multiple heads are present; please specify the head revision on which "
                         "the new revision should be based, or perform a merge."));
  }
  auto parents = NewParents(g, parent_exprs, o.splice);
  if (!parents.ok()) return Fail(ctx, parents.status());
  if (is_merge && parents->size() < 2) {
    return Fail(ctx, absl::FailedPreconditionError(absl::StrCat(
                         "merge needs at least two revisions; ", absl::StrJoin(parent_exprs, " "),
                         " resolves to ", parents->empty() ? "none" : absl::StrJoin(*parents, ", "),
                         " (see 'fleetctl heads')")));
  }
  script.down_revisions = *parents;
  if (!o.branch_label.empty()) script.branch_labels = {o.branch_label};
  for (const std::string& dep : o.depends_on) {
    for (absl::string_view part : absl::StrSplit(dep, ',', absl::SkipWhitespace())) {
      std::string d(absl::StripAsciiWhitespace(part));
      auto rev = g.ResolveOne(d);
      if (!rev.ok()) return Fail(ctx, rev.status());
      if (!*rev) return Fail(ctx, absl::InvalidArgumentError("--depends-on cannot name base"));
      const auto& labels = g.branch_labels(**rev);
      bool is_label = std::find(labels.begin(), labels.end(), d) != labels.end();
      script.depends_on.push_back(is_label ? d : g.id(**rev));
    }
  }
  std::string message = o.message.empty() ? "empty message" : o.message;
  std::replace(message.begin(), message.end(), '\n', ' ');
  script.message = message;
  script.create_date = NowLocal();
  script.downgrade.emplace();
  return WriteRevision(ctx, *dir, *std::move(scripts), std::move(script));
}

int RunRevision(Context& ctx) { return CreateRevision(ctx, {ctx.options.head}, false); }

int RunMerge(Context& ctx) {
  if (ctx.options.revisions.empty()) {
    return UsageError(ctx, "merge needs the revisions to merge, or 'heads'");
  }
  return CreateRevision(ctx, ctx.options.revisions, true);
}

int RunInit(Context& ctx) {
  const std::string& dir = ctx.options.init_dir;
  if (ctx.fs.Exists(dir)) {
    auto files = ctx.fs.ListFiles(dir);
    bool empty = files.ok() && files->empty() && !ctx.fs.Exists(migrations::JoinPath(dir, "versions"));
    if (!empty) {
      return Fail(ctx, absl::AlreadyExistsError(
                           absl::StrCat("Directory ", dir, " already exists and is not empty")));
    }
  }
  std::string versions = migrations::JoinPath(dir, "versions");
  if (absl::Status s = ctx.fs.CreateDirectories(versions); !s.ok()) return Fail(ctx, s);
  static constexpr char kToml[] =
      "# fleet.toml: settings for fleetctl's single-database verbs.\n"
      "# fleetctl reads ./fleet.toml, so run it from this directory (or pass --dir).\n"
      "\n"
      "# The versions directory: one <revision>_<slug>.sql file per revision.\n"
      "script_location = \"versions\"\n"
      "\n"
      "# The version table, exactly Alembic's (version_table, version_table_schema).\n"
      "# version_table = \"alembic_version\"\n"
      "# version_table_schema = \"public\"\n";
  std::string toml_path = migrations::JoinPath(dir, kConfigFile);
  if (absl::Status s = ctx.fs.WriteNewFile(toml_path, kToml); !s.ok()) return Fail(ctx, s);
  ctx.out << "  Creating directory " << versions << " ...  done\n"
          << "  Generating " << toml_path << " ...  done\n"
          << "Next: cd " << dir << " && fleetctl revision -m \"create tickets\"\n";
  return kExitOk;
}

// ---- the command table: names, help, options, handlers ----

struct Command {
  const char* name;
  const char* help;
  std::function<void(CLI::App&, Options&)> setup;
  int (*run)(Context&);
};

const std::vector<Command>& Commands() {
  static const std::vector<Command>* const kCommands = new std::vector<Command>{
      {"init", "Create a versions directory and a commented fleet.toml in DIR.",
       [](CLI::App& c, Options& o) {
         c.add_option("DIR", o.init_dir, "Directory to create")->required();
       },
       RunInit},
      {"revision", "Write a new, empty revision script on top of the current head.",
       [](CLI::App& c, Options& o) {
         c.add_option("-m,--message", o.message, "What the revision does (names the file)");
         c.add_option("--head", o.head,
                      "Revision to build on: a head, 'base' for a new root, or with --splice "
                      "any revision")
             ->capture_default_str();
         c.add_option("--branch-label", o.branch_label, "Branch label for the new revision");
         c.add_option("--depends-on", o.depends_on,
                      "Revision or branch label this one depends on (repeatable)");
         c.add_option("--rev-id", o.rev_id, "Use this id instead of 12 random hex digits");
         c.add_flag("--splice", o.splice, "Allow --head to be a revision that is not a head");
       },
       RunRevision},
      {"merge", "Write a revision that merges REV... (or 'heads') into one head.",
       [](CLI::App& c, Options& o) {
         c.add_option("REV", o.revisions, "Revisions to merge, or 'heads'")->required();
         c.add_option("-m,--message", o.message, "What the merge is for");
         c.add_option("--branch-label", o.branch_label, "Branch label for the merge revision");
         c.add_option("--rev-id", o.rev_id, "Use this id instead of 12 random hex digits");
       },
       RunMerge},
      {"heads", "Show the head revisions of the versions directory.",
       [](CLI::App& c, Options& o) {
         c.add_flag("-v,--verbose", o.verbose, "Show each revision in full");
         c.add_flag("--resolve-dependencies", o.resolve_dependencies,
                    "Treat depends_on as down revisions (only real heads)");
       },
       RunHeads},
      {"branches", "Show branch points and the revisions they branch into.",
       [](CLI::App& c, Options& o) {
         c.add_flag("-v,--verbose", o.verbose, "Show each revision in full");
       },
       RunBranches},
      {"history", "List revisions, newest first.",
       [](CLI::App& c, Options& o) {
         c.add_option("-r,--rev-range", o.range, "Range [start]:[end], e.g. ae10:head or base:");
         c.add_flag("-v,--verbose", o.verbose, "Show each revision in full");
       },
       RunHistory},
      {"show", "Show the revision(s) a target names (id, prefix, label, head, heads).",
       [](CLI::App& c, Options& o) {
         c.add_option("REV", o.target, "Target expression")->required();
       },
       RunShow},
      {"upgrade", "Upgrade to TARGET (head, heads, an id, L@head, +N, rev+N ...).",
       [](CLI::App& c, Options& o) {
         c.add_option("TARGET", o.target, "Target; with --sql also FROM:TO")->required();
         c.add_flag("--sql", o.sql, "Print the SQL instead of running it (offline mode)");
       },
       RunUpgrade},
      {"downgrade", "Downgrade to TARGET (base, an id, -N, L@base ...).",
       [](CLI::App& c, Options& o) {
         c.add_option("TARGET", o.target, "Target; with --sql it must be FROM:TO")->required();
         c.add_flag("--sql", o.sql, "Print the SQL instead of running it (offline mode)");
       },
       RunDowngrade},
      {"stamp", "Set the version table to REV... without running any script.",
       [](CLI::App& c, Options& o) {
         c.add_option("REV", o.revisions, "Revisions; with --sql each may be FROM:TO")->required();
         c.add_flag("--sql", o.sql, "Print the SQL instead of running it (offline mode)");
         c.add_flag("--purge", o.purge, "Empty the version table first");
       },
       RunStamp},
  };
  return *kCommands;
}

}  // namespace

int RunFleetctl(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
                migrations::FileSystem& fs) {
  Context ctx{Options{}, out, err, fs};
  CLI::App app{
      "fleetctl: Alembic-compatible schema migrations for one database, and (soon) a fleet of "
      "tenant databases.\n\nThe versions directory is --dir, else script_location in "
      "./fleet.toml, else ./versions.",
      "fleetctl"};
  app.set_version_flag("--version", "fleetctl 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();  // global options work before or after the verb
  app.add_option("--dir", ctx.options.dir, "Versions directory");
  app.add_option("-o,--output", ctx.options.output, "Output format: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.add_option("--version-table", ctx.options.version_table,
                 "Version table name (default alembic_version)");
  app.add_option("--version-table-schema", ctx.options.version_table_schema,
                 "Schema of the version table");
  std::vector<std::pair<CLI::App*, int (*)(Context&)>> subcommands;
  for (const Command& command : Commands()) {
    CLI::App* sub = app.add_subcommand(command.name, command.help);
    command.setup(*sub, ctx.options);
    subcommands.emplace_back(sub, command.run);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      app.exit(e, out, err);
      return kExitOk;
    }
    return UsageError(ctx, e.what());
  }
  for (auto& [sub, run] : subcommands) {
    if (sub->parsed()) return run(ctx);
  }
  return UsageError(ctx, "no command given");
}

}  // namespace fleet::cli
