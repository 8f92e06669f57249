// What one PostgreSQL schema holds, read from pg_catalog: tables with their
// columns and constraints, indexes, enum types, sequences and views, with
// comments. Definitions are PostgreSQL's own renderings (format_type,
// pg_get_expr, pg_get_constraintdef, pg_get_indexdef, pg_get_viewdef) read
// with search_path set to the schema, so two schemas built from the same
// SQL read the same. PostgreSQL is the parser; the catalog is the truth.
#ifndef FLEET_MIGRATIONS_SCHEMA_CATALOG_H_
#define FLEET_MIGRATIONS_SCHEMA_CATALOG_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace pqxx {
class connection_base;
class transaction_base;
}

namespace fleet::migrations {

// Every object carries its name as the server quotes it (`q`), ready for SQL.
struct CatalogColumn {
  std::string name, q;
  std::string type;           // format_type(): "bigint", "character varying(80)", "mood"
  bool not_null = false;
  std::string default_expr;   // pg_get_expr() of the default; empty: none
  char identity = 0;          // 'a' ALWAYS, 'd' BY DEFAULT, 0 none
  std::string generated;      // expression of a STORED generated column; empty: none
  std::string comment_literal;  // quote_literal() of the comment; empty: none
  bool operator==(const CatalogColumn&) const = default;
};

struct CatalogConstraint {
  std::string name, q;
  char kind = 0;              // 'p' primary key, 'u' unique, 'c' check, 'f' foreign key, 'x' exclusion
  std::string definition;     // pg_get_constraintdef(): "FOREIGN KEY (a) REFERENCES t(id) ON DELETE CASCADE"
  std::string references;     // for 'f': the referenced table's name
  bool operator==(const CatalogConstraint&) const = default;
};

struct CatalogTable {
  std::string name, q;
  std::string local_q;  // q without its schema (as a view's text names the table's columns)
  std::vector<CatalogColumn> columns;          // in column order
  std::vector<CatalogConstraint> constraints;  // by name
  std::string comment_literal;
  uint32_t oid = 0;  // creation order, for writing new objects; not compared
};

struct CatalogIndex {
  std::string name, q, table;
  std::string definition;  // "CREATE [UNIQUE] INDEX i ON t USING btree (c) WHERE ...", unqualified
  std::string comment_literal;
  uint32_t oid = 0;
};

struct CatalogEnum {
  std::string name, q;
  std::vector<std::string> values;           // in sort order, as written
  std::vector<std::string> value_literals;   // quote_literal() of each
  std::string comment_literal;
  uint32_t oid = 0;
};

struct CatalogSequence {
  std::string name, q;
  std::string options;   // "AS bigint INCREMENT BY 1 MINVALUE 1 MAXVALUE ... START WITH 1 CACHE 1 NO CYCLE"
  std::string owned_by;  // "table.column" (quoted) for a serial column's sequence; empty: none
  std::string owned_column;  // the column of owned_by alone (quoted)
  std::string owner_table;  // the owning table's name, to skip it when that table is dropped
  std::string comment_literal;
  uint32_t oid = 0;
};

struct CatalogView {
  std::string name, q;
  std::string definition;  // pg_get_viewdef(), pretty
  std::string comment_literal;
  uint32_t oid = 0;
};

struct SchemaCatalog {
  std::map<std::string, CatalogTable> tables;
  std::map<std::string, CatalogIndex> indexes;  // not those backing a constraint
  std::map<std::string, CatalogEnum> enums;
  std::map<std::string, CatalogSequence> sequences;  // not identity columns' own
  std::map<std::string, CatalogView> views;
  // Schemas read besides the default one, by name: their quoted names.
  std::map<std::string, std::string> schemas;
};

// Reads `schema` over `connection` (in its own read-only transaction).
// Tables named in `skip_tables` (the version table and the log) are left out.
// With a `default_schema` other than `schema` (autogenerate's schemas = [...]
// beside the scripts' own schema), every object's key is "schema.name", its
// SQL name schema-qualified, and its definitions name every schema, so that
// the catalog merges with the default schema's and its statements run from
// any search_path.
[[nodiscard]] absl::StatusOr<SchemaCatalog> ReadSchemaCatalog(
    pqxx::connection_base& connection, const std::string& schema,
    const std::set<std::string>& skip_tables, const std::string& default_schema = "");

// The same inside a transaction the caller owns (it sets search_path
// locally: the caller's own statements after it see that).
[[nodiscard]] absl::StatusOr<SchemaCatalog> ReadSchemaCatalogIn(
    pqxx::transaction_base& tx, const std::string& schema,
    const std::set<std::string>& skip_tables, const std::string& default_schema = "");

// Adds `more` (another schema's objects, keyed "schema.name") to `catalog`.
void MergeCatalog(SchemaCatalog* catalog, SchemaCatalog more);

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_SCHEMA_CATALOG_H_
