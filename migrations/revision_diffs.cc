// What autogenerate makes of two catalogs for a revision (schema_diff.h):
// the objects left out of the comparison, the upgrade and downgrade diffs a
// revision needs, and a list of changes rendered as a section's SQL. The
// comparison itself is schema_diff.cc.
#include <fnmatch.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "migrations/schema_diff.h"

namespace fleet::migrations {

std::string RenderChanges(const std::vector<SchemaChange>& changes, bool concurrent) {
  std::string out;
  for (const SchemaChange& c : changes) {
    if (c.concurrent != concurrent) continue;
    if (!out.empty()) out += "\n";
    absl::StrAppend(&out, "-- ", c.summary, "\n");
    for (const auto& w : c.warnings) absl::StrAppend(&out, "-- WARNING: ", w, "\n");
    if (c.commented_out) {
      for (absl::string_view line : absl::StrSplit(c.sql, '\n')) {
        if (absl::StartsWith(line, "-- ")) {
          absl::StrAppend(&out, line, "\n");
        } else {
          absl::StrAppend(&out, "-- ", line, "\n");
        }
      }
    } else {
      absl::StrAppend(&out, c.sql, "\n");
    }
  }
  return out;
}

RevisionDiffs DiffForRevisions(const SchemaCatalog& heads, const SchemaCatalog& declared,
                               bool allow_drop, bool concurrent_indexes) {
  RevisionDiffs out;
  DiffOptions up;
  up.allow_drop = allow_drop;
  up.concurrent_indexes = concurrent_indexes;
  out.upgrade = DiffSchemaCatalogs(heads, declared, up);
  // The "middle" catalog: where the transactional revision leaves a tenant,
  // before the concurrent one adds its indexes.
  SchemaCatalog middle = declared;
  for (const auto& c : out.upgrade.changes) {
    if (!c.concurrent) continue;
    absl::StrAppend(&out.concurrent_downgrade, "-- drop index ", c.object, "\n",
                    "DROP INDEX CONCURRENTLY ", declared.indexes.at(c.object).q, ";\n");
    middle.indexes.erase(c.object);
  }
  DiffOptions down;
  down.downgrade = true;
  out.downgrade = DiffSchemaCatalogs(middle, heads, down);
  return out;
}

std::set<std::string> ExcludeFromCatalog(SchemaCatalog* catalog,
                                         const std::vector<std::string>& patterns) {
  std::set<std::string> removed;
  if (patterns.empty()) return removed;
  // Another schema's objects are keyed "schema.name": a pattern with a dot
  // ("audit.tmp_*") matches that key, one without ("tmp_*") the name in
  // every schema compared.
  auto excluded = [&](const std::string& name) {
    const size_t dot = name.find('.');
    const std::string bare = dot == std::string::npos ? name : name.substr(dot + 1);
    for (const std::string& p : patterns) {
      const std::string& subject = p.find('.') == std::string::npos ? bare : name;
      if (fnmatch(p.c_str(), subject.c_str(), 0) == 0) return true;
    }
    return false;
  };
  auto sweep = [&](auto& objects) {
    for (auto it = objects.begin(); it != objects.end();) {
      if (excluded(it->first)) {
        removed.insert(it->first);
        it = objects.erase(it);
      } else {
        ++it;
      }
    }
  };
  // "audit.*" leaves the schema itself alone too (not created, not dropped).
  for (auto it = catalog->schemas.begin(); it != catalog->schemas.end();) {
    bool whole = false;
    for (const std::string& p : patterns) {
      whole |= absl::EndsWith(p, ".*") &&
               fnmatch(p.substr(0, p.size() - 2).c_str(), it->first.c_str(), 0) == 0;
    }
    if (whole) {
      removed.insert(absl::StrCat("schema ", it->first));
      it = catalog->schemas.erase(it);
    } else {
      ++it;
    }
  }
  sweep(catalog->tables);
  sweep(catalog->views);
  sweep(catalog->sequences);
  sweep(catalog->enums);
  for (auto it = catalog->indexes.begin(); it != catalog->indexes.end();) {
    if (excluded(it->first) || removed.count(it->second.table) > 0) {
      removed.insert(it->first);
      it = catalog->indexes.erase(it);
    } else {
      ++it;
    }
  }
  return removed;
}

}  // namespace fleet::migrations
