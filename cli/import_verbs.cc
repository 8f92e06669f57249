// import alembic: an Alembic project's revisions as fleet's .sql scripts,
// rendered by the project's own Alembic in offline mode (cli/
// alembic_render.py, compiled in), keeping ids, parents, labels,
// dependencies, messages and dates; never silently wrong: what cannot be
// rendered offline is written to fail when run, and named.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/command.h"
#include "cli/embedded_files.h"
#include "migrations/script.h"
#include "migrations/script_directory.h"
#include "nlohmann/json.hpp"

namespace fleet::cli {
namespace {

using migrations::RevisionGraph;

// `s` in single quotes for /bin/sh.
std::string ShellQuote(absl::string_view s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "'\\''"}}), "'");
}

// Every line of `text` as an SQL comment.
std::string Commented(absl::string_view text) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    absl::StrAppend(&out, "-- ", absl::StripTrailingAsciiWhitespace(line), "\n");
  }
  return out;
}

// One line of text (an error): no line breaks.
std::string OneLine(absl::string_view text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipWhitespace());
  for (auto& l : lines) l = std::string(absl::StripAsciiWhitespace(l));
  return absl::StrJoin(lines, " ");
}

// Runs the helper with `python` on `ini`; its JSON.
absl::StatusOr<nlohmann::json> Render(Context& ctx, const std::string& python,
                                      const std::string& ini) {
  const char* tmp = std::getenv("TMPDIR");
  auto dir = ctx.fs.MakeTempDirectory(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp",
                                      "fleet-import-");
  if (!dir.ok()) return dir.status();
  struct Cleanup {
    migrations::FileSystem& fs;
    std::string dir;
    ~Cleanup() { fs.RemoveAll(dir).IgnoreError(); }
  } cleanup{ctx.fs, *dir};
  const std::string helper = migrations::JoinPath(*dir, "alembic_render.py");
  const std::string err_path = migrations::JoinPath(*dir, "stderr");
  const serving::EmbeddedFile* script = serving::FindEmbedded(EmbeddedFiles(), "alembic_render.py");
  if (script == nullptr) return absl::InternalError("fleetctl was built without its Alembic helper");
  if (absl::Status s = ctx.fs.WriteNewFile(helper, std::string(script->bytes())); !s.ok()) return s;
  const std::string cmd = absl::StrCat(ShellQuote(python), " ", ShellQuote(helper), " ",
                                       ShellQuote(ini), " 2>", ShellQuote(err_path));
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return absl::InternalError("cannot start " + python);
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = pclose(p);
  if (rc != 0) {
    std::string err = ctx.fs.ReadFile(err_path).value_or("");
    std::vector<std::string> lines = absl::StrSplit(err, '\n', absl::SkipWhitespace());
    std::string last = lines.empty() ? "no message" : lines.back();
    std::string hint;
    if (absl::StrContains(err, "No module named 'alembic")) {
      hint = absl::StrCat(" (", python,
                          " has no Alembic: install it there, e.g. apt-get install "
                          "python3-alembic, or name another interpreter with --python)");
    } else if (WIFEXITED(rc) && WEXITSTATUS(rc) == 127) {
      hint = absl::StrCat(" (no ", python, " to run: install Python 3, or pass --python)");
    }
    return absl::FailedPreconditionError(
        absl::StrCat("Alembic could not read the project ", ini, ": ", last, hint));
  }
  nlohmann::json j = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.contains("revisions")) {
    return absl::InternalError("the Alembic helper's answer could not be read");
  }
  return j;
}

std::vector<std::string> Strings(const nlohmann::json& j) {
  std::vector<std::string> out;
  for (const auto& v : j) out.push_back(v.get<std::string>());
  return out;
}

// --check: the imported directory's graph against Alembic's own.
int Check(Context& ctx, const nlohmann::json& alembic, const std::string& out) {
  auto graph = migrations::LoadRevisionGraph(ctx.fs, out);
  if (!graph.ok()) return Fail(ctx, graph.status());
  const RevisionGraph& g = **graph;
  std::vector<std::string> problems;
  std::set<std::string> theirs;
  for (const auto& r : alembic["revisions"]) {
    const std::string id = r["revision"].get<std::string>();
    theirs.insert(id);
    auto mine = g.FindExact(id);
    if (!mine) {
      problems.push_back(absl::StrCat("revision ", id, " is missing from ", out));
      continue;
    }
    std::vector<std::string> want = Strings(r["down_revisions"]);
    std::vector<std::string> have = g.script(*mine).down_revisions;
    std::sort(want.begin(), want.end());
    std::sort(have.begin(), have.end());
    if (want != have) {
      problems.push_back(absl::StrCat("revision ", id, ": parents ", HeadsText(have),
                                      " where Alembic has ", HeadsText(want)));
    }
  }
  for (int i = 0; i < g.size(); ++i) {
    if (!theirs.count(g.id(i))) {
      problems.push_back(absl::StrCat("revision ", g.id(i), " (", g.script(i).path,
                                      ") is not in the Alembic project"));
    }
  }
  std::vector<std::string> heads = Ids(g, g.heads());
  std::vector<std::string> their_heads = Strings(alembic["heads"]);
  std::sort(heads.begin(), heads.end());
  std::sort(their_heads.begin(), their_heads.end());
  if (heads != their_heads) {
    problems.push_back(absl::StrCat("heads ", HeadsText(heads), " where Alembic has ",
                                    HeadsText(their_heads)));
  }
  if (!problems.empty()) {
    for (const auto& p : problems) ctx.out << "  " << p << "\n";
    ctx.out << problems.size() << " difference(s) from Alembic's graph.\n";
    return kExitCheckFailed;
  }
  ctx.out << "Same revisions, parents and heads as Alembic's: " << theirs.size()
          << " revisions, heads " << HeadsText(heads) << ".\n";
  return kExitOk;
}

int RunImportAlembic(Context& ctx) {
  const Options& o = ctx.options;
  if (!ctx.fs.Exists(o.alembic_config)) {
    return UsageError(ctx, absl::StrCat("no Alembic config at ", o.alembic_config,
                                        " (--config alembic.ini)"));
  }
  std::string out = o.import_out;
  if (out.empty()) {
    auto dir = VersionsDir(ctx);
    if (!dir.ok()) return Fail(ctx, dir.status());
    out = *dir;
  }
  auto alembic = Render(ctx, o.python, o.alembic_config);
  if (!alembic.ok()) return Fail(ctx, alembic.status());
  if (o.check_import) return Check(ctx, *alembic, out);

  if (ctx.fs.Exists(out)) {
    auto files = ctx.fs.ListFiles(out);
    if (files.ok() && std::any_of(files->begin(), files->end(), [](const std::string& f) {
          return absl::EndsWith(f, ".sql");
        })) {
      return Fail(ctx, absl::FailedPreconditionError(absl::StrCat(
                           out, " already holds revisions: import into an empty directory "
                                "(--out DIR)")));
    }
  }
  struct Written {
    std::string path, text, note;
  };
  std::vector<Written> written;
  std::vector<migrations::Script> scripts;
  std::vector<std::string> not_imported;
  for (const auto& r : (*alembic)["revisions"]) {
    migrations::Script s;
    s.revision = r["revision"].get<std::string>();
    s.down_revisions = Strings(r["down_revisions"]);
    s.branch_labels = Strings(r["branch_labels"]);
    s.depends_on = Strings(r["depends_on"]);
    s.message = OneLine(r["message"].get<std::string>());
    s.create_date = r["create_date"].get<std::string>();
    s.transactional = r["transactional"].get<bool>();
    const std::string source_path = r["path"].get<std::string>();
    std::string note;
    std::string upgrade_error =
        r["upgrade_error"].is_null() ? "" : OneLine(r["upgrade_error"].get<std::string>());
    const std::string name = absl::StrCat(s.revision, "_", Slug(s.message), ".sql");
    const std::string path = migrations::JoinPath(out, name);
    auto fail_when_run = [&](const std::string& why) {
      // Never an empty or partial upgrade: one that stops, naming itself.
      s.transactional = true;
      s.upgrade.sql = absl::StrCat(
          "-- NOT IMPORTED: Alembic could not render this revision offline: ", why,
          "\n-- Write its SQL by hand from its Python source, kept below, then delete the DO "
          "block.\n",
          Commented(r["source"].get<std::string>()),
          "DO $$ BEGIN RAISE EXCEPTION 'revision ", s.revision,
          " was not imported from Alembic (", absl::StrReplaceAll(source_path, {{"'", "''"}}),
          "): write its SQL by hand'; END $$;\n");
      s.downgrade.reset();
      not_imported.push_back(absl::StrCat(s.revision, " (", source_path, "): ", why));
      note = "NOT IMPORTED: written to fail when run";
    };
    if (!upgrade_error.empty()) {
      fail_when_run(upgrade_error);
    } else {
      s.upgrade.sql = r["upgrade"].get<std::string>();
      if (!r["downgrade_error"].is_null()) {
        const std::string why = OneLine(r["downgrade_error"].get<std::string>());
        // Irreversible, and saying why (lint reads the same comment).
        s.upgrade.sql = absl::StrCat("-- lint:ignore missing-downgrade Alembic's downgrade() raises: ",
                                     why, "\n", s.upgrade.sql);
        s.downgrade.reset();
        note = absl::StrCat("irreversible (its downgrade raises ", why, ")");
      } else {
        s.downgrade.emplace();
        s.downgrade->sql = r["downgrade"].get<std::string>();
      }
      if (!s.transactional) {
        note = absl::StrCat(note.empty() ? "" : note + "; ",
                            "transactional: false (it uses autocommit_block)");
      }
    }
    std::string text = migrations::FormatScript(s);
    auto parsed = migrations::ParseScript(path, text);
    if (!parsed.ok() && upgrade_error.empty()) {
      // Alembic wrote SQL PostgreSQL's parser refuses: not silently kept.
      fail_when_run(absl::StrCat("its SQL does not parse: ", parsed.status().message()));
      text = migrations::FormatScript(s);
      parsed = migrations::ParseScript(path, text);
    }
    if (!parsed.ok()) return Fail(ctx, parsed.status());
    scripts.push_back(*std::move(parsed));
    written.push_back({path, std::move(text), std::move(note)});
  }
  // The whole graph checks out before anything is written.
  std::vector<migrations::Script> sorted = scripts;
  std::sort(sorted.begin(), sorted.end(),
            [](const migrations::Script& a, const migrations::Script& b) { return a.path < b.path; });
  if (auto g = RevisionGraph::Build(std::move(sorted)); !g.ok()) return Fail(ctx, g.status());
  if (absl::Status s = ctx.fs.CreateDirectories(out); !s.ok()) return Fail(ctx, s);
  for (const Written& w : written) {
    if (absl::Status s = ctx.fs.WriteNewFile(w.path, w.text); !s.ok()) return Fail(ctx, s);
    ctx.out << "  Imported " << w.path << (w.note.empty() ? "" : ": " + w.note) << "\n";
  }
  ctx.out << written.size() - not_imported.size() << " of " << written.size()
          << " revisions imported into " << out << ".\n";
  if (!not_imported.empty()) {
    ctx.out << not_imported.size()
            << " could not be rendered offline; each is written to fail when run, with its "
               "Python source, until its SQL is written by hand:\n";
    for (const auto& n : not_imported) ctx.out << "  " << n << "\n";
    return kExitCheckFailed;
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> ImportVerbs() {
  return {
      {"import",
       "Bring another tool's history in: alembic (an Alembic project, rendered by its own "
       "Alembic offline).",
       nullptr,
       nullptr,
       {{"alembic",
         "Write an Alembic project's revisions as .sql scripts (ids, parents, labels, "
         "dependencies, messages kept), rendered by the project's own Alembic in offline mode "
         "for PostgreSQL; exit 1 naming each revision that cannot be rendered offline. "
         "--check compares the written graph with Alembic's.",
         [](CLI::App& c, Options& o) {
           c.add_option("--config", o.alembic_config, "The project's alembic.ini")->required();
           c.add_option("--out", o.import_out,
                        "Directory to write into (default: --dir, script_location in "
                        "fleet.toml, else ./versions); it must hold no .sql file");
           c.add_option("--python", o.python,
                        "The Python that has the project's Alembic and imports")
               ->capture_default_str();
           c.add_flag("--check", o.check_import,
                      "Write nothing: compare the directory with Alembic's graph (revisions, "
                      "parents, heads)");
         },
         RunImportAlembic}}},
  };
}

}  // namespace fleet::cli
