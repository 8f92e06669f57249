#include "migrations/schema_catalog.h"

#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace fleet::migrations {
namespace {

std::string Text(const pqxx::field& f) { return f.is_null() ? std::string() : f.as<std::string>(); }

}  // namespace

absl::StatusOr<SchemaCatalog> ReadSchemaCatalog(pqxx::connection_base& connection,
                                                const std::string& schema,
                                                const std::set<std::string>& skip_tables,
                                                const std::string& default_schema) {
  try {
    pqxx::work tx(connection);
    tx.exec("SET TRANSACTION READ ONLY");
    auto c = ReadSchemaCatalogIn(tx, schema, skip_tables, default_schema);
    tx.commit();
    return c;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("reading schema '", schema, "': ", e.what()));
  }
}

absl::StatusOr<SchemaCatalog> ReadSchemaCatalogIn(pqxx::transaction_base& tx,
                                                  const std::string& schema,
                                                  const std::set<std::string>& skip_tables,
                                                  const std::string& default_schema) {
  SchemaCatalog c;
  const std::string& home = default_schema.empty() ? schema : default_schema;
  const bool qualify = schema != home;
  try {
    // Definitions render names relative to search_path: unqualified in the
    // default schema; another schema's read with only pg_catalog on the
    // path, so that everything in them names its schema.
    tx.exec(qualify ? std::string("SET LOCAL search_path TO pg_catalog")
                    : absl::StrCat("SET LOCAL search_path TO ", tx.quote_name(schema),
                                   ", pg_catalog"));
    pqxx::result ns = tx.exec_params("SELECT oid, quote_ident(nspname) FROM pg_namespace "
                                     "WHERE nspname = $1", schema);
    if (ns.empty()) return absl::NotFoundError(absl::StrCat("schema '", schema, "' does not exist"));
    const std::string nsp = ns[0][0].as<std::string>();
    // An object's key and SQL name: bare in the default schema, else
    // "schema.name" (the key) and "schema".name (quoted as the server does).
    const std::string quoted_schema = ns[0][1].as<std::string>();
    if (qualify) c.schemas[schema] = quoted_schema;
    auto key = [&](const std::string& name) {
      return qualify ? absl::StrCat(schema, ".", name) : name;
    };
    auto sql_name = [&](const std::string& q) {
      return qualify ? absl::StrCat(quoted_schema, ".", q) : q;
    };
    // A referenced table elsewhere: its key as the reader of that schema
    // would make it.
    auto key_in = [&](const std::string& in_schema, const std::string& name) {
      return in_schema == home ? name : absl::StrCat(in_schema, ".", name);
    };

    for (const auto& row : tx.exec_params(
             "SELECT c.oid, c.relname, quote_ident(c.relname), "
             "       quote_literal(obj_description(c.oid, 'pg_class')) "
             "FROM pg_class c WHERE c.relnamespace = $1::oid AND c.relkind IN ('r', 'p') "
             "ORDER BY c.relname",
             nsp)) {
      std::string name = row[1].as<std::string>();
      if (skip_tables.count(name)) continue;
      CatalogTable t;
      t.oid = row[0].as<uint32_t>();
      t.name = key(name);
      t.local_q = row[2].as<std::string>();
      t.q = sql_name(t.local_q);
      t.comment_literal = Text(row[3]);
      c.tables[t.name] = std::move(t);
    }
    for (const auto& row : tx.exec_params(
             "SELECT c.relname, a.attname, quote_ident(a.attname), "
             "       format_type(a.atttypid, a.atttypmod), a.attnotnull, "
             "       CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END, "
             "       a.attidentity, "
             "       CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END, "
             "       quote_literal(col_description(c.oid, a.attnum)) "
             "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
             "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
             "WHERE c.relnamespace = $1::oid AND c.relkind IN ('r', 'p') "
             "  AND a.attnum > 0 AND NOT a.attisdropped "
             "ORDER BY c.relname, a.attnum",
             nsp)) {
      auto it = c.tables.find(key(row[0].as<std::string>()));
      if (it == c.tables.end()) continue;
      CatalogColumn col;
      col.name = row[1].as<std::string>();
      col.q = row[2].as<std::string>();
      col.type = row[3].as<std::string>();
      col.not_null = row[4].as<bool>();
      col.default_expr = Text(row[5]);
      std::string identity = Text(row[6]);
      col.identity = identity.empty() ? 0 : identity[0];
      col.generated = Text(row[7]);
      col.comment_literal = Text(row[8]);
      it->second.columns.push_back(std::move(col));
    }
    for (const auto& row : tx.exec_params(
             "SELECT c.relname, k.conname, quote_ident(k.conname), k.contype, "
             "       pg_get_constraintdef(k.oid), f.relname, fn.nspname "
             "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
             "LEFT JOIN pg_class f ON f.oid = k.confrelid "
             "LEFT JOIN pg_namespace fn ON fn.oid = f.relnamespace "
             "WHERE c.relnamespace = $1::oid AND k.contype IN ('p', 'u', 'c', 'f', 'x') "
             "ORDER BY c.relname, k.conname",
             nsp)) {
      auto it = c.tables.find(key(row[0].as<std::string>()));
      if (it == c.tables.end()) continue;
      CatalogConstraint k;
      k.name = row[1].as<std::string>();
      k.q = row[2].as<std::string>();
      k.kind = row[3].as<std::string>()[0];
      k.definition = row[4].as<std::string>();
      if (!row[5].is_null()) k.references = key_in(Text(row[6]), Text(row[5]));
      it->second.constraints.push_back(std::move(k));
    }
    // pg_get_indexdef qualifies the table whatever search_path says.
    // (quote_ident, not quote_name: the server quotes only when it must).
    const std::string quoted = tx.exec_params("SELECT quote_ident($1)", schema)[0][0].as<std::string>();
    const std::string qualified = absl::StrCat(" ON ", quoted, ".");
    const std::string qualified_only = absl::StrCat(" ON ONLY ", quoted, ".");
    for (const auto& row : tx.exec_params(
             "SELECT i.oid, i.relname, quote_ident(i.relname), t.relname, pg_get_indexdef(i.oid), "
             "       quote_literal(obj_description(i.oid, 'pg_class')) "
             "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
             "JOIN pg_class t ON t.oid = x.indrelid "
             "WHERE i.relnamespace = $1::oid "
             "  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.oid "
             "                  AND k.contype IN ('p', 'u', 'x')) "
             "ORDER BY i.relname",
             nsp)) {
      std::string table = key(row[3].as<std::string>());
      if (!c.tables.count(table)) continue;
      CatalogIndex ix;
      ix.oid = row[0].as<uint32_t>();
      ix.name = key(row[1].as<std::string>());
      ix.q = sql_name(row[2].as<std::string>());
      ix.table = table;
      // The index's own name stays bare: PostgreSQL puts it beside its table.
      ix.definition = qualify ? row[4].as<std::string>()
                              : absl::StrReplaceAll(row[4].as<std::string>(),
                                                    {{qualified_only, " ON ONLY "},
                                                     {qualified, " ON "}});
      ix.comment_literal = Text(row[5]);
      c.indexes[ix.name] = std::move(ix);
    }
    for (const auto& row : tx.exec_params(
             "SELECT t.oid, t.typname, quote_ident(t.typname), "
             "       quote_literal(obj_description(t.oid, 'pg_type')), "
             "       array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[] "
             "FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid "
             "WHERE t.typnamespace = $1::oid AND t.typtype = 'e' "
             "GROUP BY t.oid, t.typname ORDER BY t.typname",
             nsp)) {
      CatalogEnum e;
      e.oid = row[0].as<uint32_t>();
      e.name = key(row[1].as<std::string>());
      e.q = sql_name(row[2].as<std::string>());
      e.comment_literal = Text(row[3]);
      auto labels = row[4].as_array();
      for (auto v = labels.get_next(); v.first != pqxx::array_parser::juncture::done;
           v = labels.get_next()) {
        if (v.first == pqxx::array_parser::juncture::string_value) e.values.push_back(v.second);
      }
      // standard_conforming_strings is on (the default since 9.1): only
      // quotes need doubling.
      for (const auto& v : e.values) {
        e.value_literals.push_back(absl::StrCat("'", absl::StrReplaceAll(v, {{"'", "''"}}), "'"));
      }
      c.enums[e.name] = std::move(e);
    }
    for (const auto& row : tx.exec_params(
             "SELECT c.oid, c.relname, quote_ident(c.relname), "
             "       format('AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s %s', "
             "              format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, "
             "              s.seqstart, s.seqcache, CASE WHEN s.seqcycle THEN 'CYCLE' "
             "              ELSE 'NO CYCLE' END), "
             "       d.deptype, quote_ident(t.relname) || '.' || quote_ident(a.attname), t.relname, "
             "       quote_literal(obj_description(c.oid, 'pg_class')), quote_ident(a.attname) "
             "FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid "
             "LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid "
             "     AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
             "LEFT JOIN pg_class t ON t.oid = d.refobjid "
             "LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
             "WHERE c.relnamespace = $1::oid AND c.relkind = 'S' ORDER BY c.relname",
             nsp)) {
      if (Text(row[4]) == "i") continue;  // an identity column's own sequence
      if (skip_tables.count(Text(row[6]))) continue;  // the log's own
      CatalogSequence s;
      s.oid = row[0].as<uint32_t>();
      s.name = key(row[1].as<std::string>());
      s.q = sql_name(row[2].as<std::string>());
      s.options = row[3].as<std::string>();
      s.owned_by = row[5].is_null() ? std::string() : sql_name(Text(row[5]));
      s.owner_table = row[6].is_null() ? std::string() : key(Text(row[6]));
      s.owned_column = Text(row[8]);
      s.comment_literal = Text(row[7]);
      c.sequences[s.name] = std::move(s);
    }
    for (const auto& row : tx.exec_params(
             "SELECT c.oid, c.relname, quote_ident(c.relname), pg_get_viewdef(c.oid, true), "
             "       quote_literal(obj_description(c.oid, 'pg_class')) "
             "FROM pg_class c WHERE c.relnamespace = $1::oid AND c.relkind = 'v' "
             "ORDER BY c.relname",
             nsp)) {
      CatalogView v;
      v.oid = row[0].as<uint32_t>();
      v.name = key(row[1].as<std::string>());
      v.q = sql_name(row[2].as<std::string>());
      v.definition = row[3].as<std::string>();
      v.comment_literal = Text(row[4]);
      c.views[v.name] = std::move(v);
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("reading schema '", schema, "': ", e.what()));
  }
  return c;
}

void MergeCatalog(SchemaCatalog* catalog, SchemaCatalog more) {
  catalog->tables.merge(more.tables);
  catalog->indexes.merge(more.indexes);
  catalog->enums.merge(more.enums);
  catalog->sequences.merge(more.sequences);
  catalog->views.merge(more.views);
  catalog->schemas.merge(more.schemas);
}

}  // namespace fleet::migrations
